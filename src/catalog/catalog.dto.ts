import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, IsUUID, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../settings/instance.dto';
import {
  CATALOG_RUN_STATUSES,
  CATALOG_RUN_TRIGGERS,
  type CatalogRunEntity,
  type CatalogRunLogEntry,
  type CatalogRunResult,
  type CatalogRunStatus,
  type CatalogRunTrigger,
} from './catalog-run.entity';
import {
  OFFER_CATALOG_STATUSES,
  OFFER_VENDOR_STATUSES,
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
  @ApiPropertyOptional({ format: 'uuid', description: "Only this instance's offers." })
  instanceId?: string;

  @ValidateIf((_o, value) => value !== undefined)
  @IsIn(OFFER_CATALOG_STATUSES, {
    message: `catalogStatus must be one of ${OFFER_CATALOG_STATUSES.join(', ')}`,
  })
  @ApiPropertyOptional({
    enum: OFFER_CATALOG_STATUSES,
    description: 'One view: new, updated, discontinued or current.',
  })
  catalogStatus?: OfferCatalogStatus;
}

/** `POST /esd/offers/acknowledge`: the offers (their `id`, not the ESD offer ID) the admin reviewed. */
export class AcknowledgeOffersDto {
  @IsArray()
  @ArrayMinSize(1, { message: 'ids must name at least one offer' })
  @ArrayMaxSize(500, { message: 'ids may name at most 500 offers' })
  @IsString({ each: true })
  @ApiProperty({
    type: [String],
    minItems: 1,
    maxItems: 500,
    description: 'The offers reviewed: their `id`, not the ESD offer ID.',
  })
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

// ---------------------------------------------------------------------------------------------------------
// The same responses as OpenAPI schemas: each class implements its type, so the two cannot drift apart.

@ApiSchema({ name: 'CatalogRunLogEntry' })
export class CatalogRunLogEntryDto implements CatalogRunLogEntry {
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ enum: ['info', 'warn', 'error'] }) level: CatalogRunLogEntry['level'];
  @ApiProperty() message: string;
}

@ApiSchema({ name: 'CatalogRunCounts', description: 'What this run changed.' })
export class CatalogRunCountsDto implements Readonly<CatalogRunResult['counts']> {
  @ApiProperty({ type: 'integer' }) new: number;
  @ApiProperty({ type: 'integer' }) updated: number;
  @ApiProperty({ type: 'integer' }) discontinued: number;
  @ApiProperty({ type: 'integer' }) unchanged: number;
  @ApiProperty({ type: 'integer', description: 'Malformed offers; they count as seen.' }) skipped: number;
}

@ApiSchema({ name: 'CatalogRunSkippedOffer' })
export class CatalogRunSkippedOfferDto {
  @ApiPropertyOptional() offerId?: string;
  @ApiProperty() reason: string;
}

@ApiSchema({ name: 'CatalogRunResult' })
export class CatalogRunResultDto implements CatalogRunResult {
  @ApiProperty({ type: () => CatalogRunCountsDto }) counts: CatalogRunCountsDto;
  @ApiProperty({ type: [String], description: 'ESD offer IDs.' }) new: string[];
  @ApiProperty({ type: [String] }) updated: string[];
  @ApiProperty({ type: [String] }) discontinued: string[];
  @ApiProperty({ type: () => [CatalogRunSkippedOfferDto] }) skipped: CatalogRunSkippedOfferDto[];
}

/** A Get Services Definition run (host contract §7 "Catalog run"). */
@ApiSchema({ name: 'CatalogRun', description: 'A Get Services Definition run.' })
export class CatalogRunViewDto implements CatalogRunView {
  @ApiProperty() id: string;
  @ApiProperty() instanceId: string;
  @ApiProperty({ enum: CATALOG_RUN_TRIGGERS }) trigger: CatalogRunTrigger;
  @ApiProperty({ enum: CATALOG_RUN_STATUSES }) status: CatalogRunStatus;
  @ApiProperty({ type: 'integer', minimum: 0, maximum: 100 }) progress: number;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) startedAt: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) finishedAt: string | null;
  @ApiProperty({ type: () => [CatalogRunLogEntryDto] }) log: CatalogRunLogEntryDto[];
  @ApiProperty({ type: () => CatalogRunResultDto, nullable: true }) result: CatalogRunResultDto | null;
  @ApiProperty({ type: 'string', nullable: true }) error: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

/** An offer in its per-status view (host contract §7 "Offer"). */
@ApiSchema({ name: 'Offer' })
export class OfferViewDto implements OfferView {
  @ApiProperty({ description: 'The offer record; acknowledge by this id.' }) id: string;
  @ApiProperty() instanceId: string;
  @ApiProperty({ description: 'The ESD offer ID (= the host product code).' }) offerId: string;
  @ApiProperty() offerUri: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: 'string', nullable: true }) shortDescription: string | null;
  @ApiProperty({ type: 'integer' }) minQuantity: number;
  @ApiProperty({ type: 'integer' }) maxQuantity: number;
  @ApiProperty() isReturnable: boolean;
  @ApiProperty({ enum: OFFER_VENDOR_STATUSES }) vendorStatus: OfferVendorStatus;
  @ApiProperty({ enum: OFFER_CATALOG_STATUSES }) catalogStatus: OfferCatalogStatus;
  @ApiProperty({ type: [String], description: 'What the administrator does next in this view.' })
  nextSteps: string[];
  @ApiProperty({ type: 'string', nullable: true, description: "The host's id of the product, once pushed." })
  hostProductRef: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) missingSince: string | null;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

@ApiSchema({ name: 'IgnoredOffer' })
export class IgnoredOfferDto {
  @ApiProperty() id: string;
  @ApiProperty({
    description:
      'Why it stayed in its view: no such offer, already current, discontinued, or a run changed it meanwhile.',
  })
  reason: string;
}

@ApiSchema({ name: 'AcknowledgeResult' })
export class AcknowledgeResultDto implements AcknowledgeResult {
  @ApiProperty({ type: [String] }) acknowledged: string[];
  @ApiProperty({ type: () => [IgnoredOfferDto] }) ignored: IgnoredOfferDto[];
}
