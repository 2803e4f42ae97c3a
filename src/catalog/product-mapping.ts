import type { CatalogStatus, HostProductInput, ProductTypeDefinition } from '../host/ports';
import type { CatalogOffer } from './catalog-offer';

/** The product type code the plugin sells under (plugin.manifest.json `productTypes`). */
export const MICROSOFT_ESD_PRODUCT_TYPE = 'MICROSOFT_ESD';
/** The code of the product type's one drop-down property: the offer URI. */
export const OFFER_URI_PROPERTY = 'offerUri';

/** What a product needs beyond its offer. */
export interface ProductMappingContext {
  instanceId: string;
  /** The instance's catalog language (BCP 47): the description's labels come in it. */
  language: string;
  /** The market's currency, or the host's default (ISO 4217). */
  currency: string;
  catalogStatus: CatalogStatus;
}

/**
 * The Microsoft ESD product type (host-contract.md §1 and §3): one-time billing, one license per item,
 * returnable, with one drop-down listing every offer URI given — pass the URIs of every instance's offers,
 * since the type is shared by all instances. Values are de-duplicated and sorted, so an unchanged catalog
 * gives an identical definition.
 */
export function microsoftEsdProductType(offerUris: Iterable<string>): ProductTypeDefinition {
  return {
    code: MICROSOFT_ESD_PRODUCT_TYPE,
    name: 'Microsoft ESD',
    billing: 'one-time',
    quantityPerItem: 1,
    returnable: true,
    properties: [
      {
        code: OFFER_URI_PROPERTY,
        name: 'Offer URI',
        kind: 'drop-down',
        values: [...new Set(offerUris)].sort(),
      },
    ],
  };
}

/**
 * The host product for an offer of one instance (host-contract.md §3): code = offer ID, the name in the
 * instance's language, a description of short description, offer URI and quantities, one-time prepaid,
 * returnable as the offer says. The defaults (price 0, inactive, unpublished) only apply when the host
 * creates the product; updates never touch what the admin owns.
 */
export function hostProductFor(offer: CatalogOffer, context: ProductMappingContext): HostProductInput {
  if (!/^[A-Z]{3}$/.test(context.currency)) {
    throw new RangeError('currency must be an upper-case ISO 4217 code');
  }
  return {
    instanceId: context.instanceId,
    code: offer.offerId,
    name: offer.name,
    description: productDescription(offer, context.language),
    productType: MICROSOFT_ESD_PRODUCT_TYPE,
    properties: { [OFFER_URI_PROPERTY]: offer.offerUri },
    charge: 'one-time-prepaid',
    currency: context.currency,
    returnable: offer.isReturnable,
    minQuantity: offer.minQuantity,
    maxQuantity: offer.maxQuantity,
    catalogStatus: context.catalogStatus,
    defaults: { priceMinor: 0, active: false, published: false },
  };
}

interface DescriptionLabels {
  offerUri: string;
  quantity: (min: number, max: number) => string;
}

const LABELS: Record<'en' | 'el', DescriptionLabels> = {
  en: { offerUri: 'Offer URI', quantity: (min, max) => `Quantity: ${min} to ${max}` },
  el: { offerUri: 'URI προσφοράς', quantity: (min, max) => `Ποσότητα: ${min} έως ${max}` },
};

/** Short description, offer URI and quantities, one per line, labelled in the instance's language. */
export function productDescription(offer: CatalogOffer, language: string): string {
  const labels = language.toLowerCase().startsWith('el') ? LABELS.el : LABELS.en;
  return [
    offer.shortDescription,
    `${labels.offerUri}: ${offer.offerUri}`,
    labels.quantity(offer.minQuantity, offer.maxQuantity),
  ]
    .filter((line): line is string => line !== null && line !== '')
    .join('\n');
}
