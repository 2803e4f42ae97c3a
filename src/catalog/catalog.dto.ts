import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, IsUUID, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../settings/instance.dto';
import type {
  CatalogRunEntity,
  CatalogRunLogEntry,
  CatalogRunResult,
  CatalogRunStatus,
  CatalogRunTrigger,
} from './catalog-run.entity';
import {
  OFFER_CATALOG_STATUSES,
  type OfferCatalogStatus,
  type OfferEntity,
  type OfferVendorStatus,
} from './offer.entity';

// ---------------------------------------------------------------------------------------------------------
// Requests

/** `GET /esd/offers?instanceId&catalogStatus&cursor&limit`. */
export class OffersQueryDto extends ListQueryDto {
  @ValidateIf((_o, value) => value !== undefined)
  @IsUUID('all', { message: 'instanceId must be an instance id' })
  instanceId?: string;

  @ValidateIf((_o, value) => value !== undefined)
  @IsIn(OFFER_CATALOG_STATUSES, {
    message: `catalogStatus must be one of ${OFFER_CATALOG_STATUSES.join(', ')}`,
  })
  catalogStatus?: OfferCatalogStatus;
}

/** `POST /esd/offers/acknowledge`: the offers (their `id`, not the ESD offer ID) the admin reviewed. */
export class AcknowledgeOffersDto {
  @IsArray()
  @ArrayMinSize(1, { message: 'ids must name at least one offer' })
  @ArrayMaxSize(500, { message: 'ids may name at most 500 offers' })
  @IsString({ each: true })
  ids: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Responses (host contract §7)

/** A Get Services Definition run. */
export interface CatalogRunView {
  id: string;
  instanceId: string;
  trigger: CatalogRunTrigger;
  status: CatalogRunStatus;
  /** 0–100. */
  progress: number;
  startedAt: string | null;
  finishedAt: string | null;
  log: CatalogRunLogEntry[];
  result: CatalogRunResult | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toRunView(run: CatalogRunEntity): CatalogRunView {
  return {
    id: run.id,
    instanceId: run.instanceId,
    trigger: run.trigger,
    status: run.status,
    progress: run.progress,
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    log: run.log ?? [],
    result: run.result,
    error: run.error,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
  };
}

/** An offer as the per-status views show it, with what the admin has to do next. */
export interface OfferView {
  id: string;
  instanceId: string;
  offerId: string;
  offerUri: string;
  name: string;
  shortDescription: string | null;
  minQuantity: number;
  maxQuantity: number;
  isReturnable: boolean;
  vendorStatus: OfferVendorStatus;
  catalogStatus: OfferCatalogStatus;
  nextSteps: string[];
  /** The host's id of the product, once pushed. */
  hostProductRef: string | null;
  /** Set when the offer vanished from Microsoft's listing. */
  missingSince: string | null;
  updatedAt: string;
}

/** What an administrator does with an offer in each view (Managing the updated products). */
export const NEXT_STEPS: Record<OfferCatalogStatus, readonly string[]> = {
  new: [
    'Activate the product in the catalog (it was added inactive).',
    'Set its price (it was added at 0).',
    'Add it to the price lists it belongs in.',
    'Publish it to the storefront.',
    'Acknowledge it here once done.',
  ],
  updated: [
    'Review the changes Microsoft made (name, description, offer URI, quantities, returnability); your prices, activation and publication were kept.',
    'Acknowledge it here once reviewed.',
  ],
  discontinued: [
    'Stop selling it: the host already refuses to sell it, whatever its active and published flags say. Unpublish it and take it off your price lists; it is kept, never deleted, for the licenses already sold.',
  ],
  current: [],
};

export function toOfferView(offer: OfferEntity): OfferView {
  return {
    id: offer.id,
    instanceId: offer.instanceId,
    offerId: offer.offerId,
    offerUri: offer.offerUri,
    name: offer.name,
    shortDescription: offer.shortDescription,
    minQuantity: offer.minQuantity,
    maxQuantity: offer.maxQuantity,
    isReturnable: offer.isReturnable,
    vendorStatus: offer.vendorStatus,
    catalogStatus: offer.catalogStatus,
    nextSteps: [...NEXT_STEPS[offer.catalogStatus]],
    hostProductRef: offer.hostProductRef,
    missingSince: offer.missingSince?.toISOString() ?? null,
    updatedAt: offer.updatedAt.toISOString(),
  };
}

/** `{ acknowledged, ignored }` of `POST /esd/offers/acknowledge`. */
export interface AcknowledgeResult {
  acknowledged: string[];
  ignored: { id: string; reason: string }[];
}
