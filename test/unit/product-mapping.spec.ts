import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogOffer } from '../../src/catalog/catalog-offer';
import {
  hostProductFor,
  MICROSOFT_ESD_PRODUCT_TYPE,
  microsoftEsdProductType,
  OFFER_URI_PROPERTY,
  productDescription,
} from '../../src/catalog/product-mapping';

function offer(overrides: Partial<CatalogOffer> = {}): CatalogOffer {
  return {
    offerId: 'DG7GMGF0D3RK',
    offerUri: 'https://cis.example/offers/windows-11-pro/DG7GMGF0D3RK',
    name: 'Windows 11 Επαγγελματική έκδοση',
    shortDescription: 'Windows 11 για μικρές επιχειρήσεις.',
    productFamily: 'Windows',
    minQuantity: 1,
    maxQuantity: 25,
    isReturnable: false,
    vendorStatus: 'Active',
    lastModified: null,
    ...overrides,
  };
}

describe('product mapping', () => {
  it('maps an offer to the host product of host-contract.md §3', () => {
    const o = offer();
    const product = hostProductFor(o, {
      instanceId: 'inst-1',
      language: 'el-GR',
      currency: 'EUR',
      catalogStatus: 'new',
    });
    expect(product).toEqual({
      instanceId: 'inst-1',
      code: o.offerId,
      name: o.name,
      description: productDescription(o, 'el-GR'),
      productType: 'MICROSOFT_ESD',
      properties: { [OFFER_URI_PROPERTY]: o.offerUri },
      charge: 'one-time-prepaid',
      currency: 'EUR',
      returnable: false,
      minQuantity: 1,
      maxQuantity: 25,
      catalogStatus: 'new',
      defaults: { priceMinor: 0, active: false, published: false },
    });
    expect(
      hostProductFor(offer({ isReturnable: true }), {
        instanceId: 'inst-1',
        language: 'el-GR',
        currency: 'USD',
        catalogStatus: 'updated',
      }),
    ).toMatchObject({ returnable: true, currency: 'USD', catalogStatus: 'updated' });
  });

  it('describes the offer with its short description, offer URI and quantities, labelled in the language', () => {
    const o = offer();
    expect(productDescription(o, 'el-GR')).toBe(
      [o.shortDescription, `URI προσφοράς: ${o.offerUri}`, 'Ποσότητα: 1 έως 25'].join('\n'),
    );
    const en = offer({ shortDescription: 'Windows for small businesses.', minQuantity: 2, maxQuantity: 10 });
    expect(productDescription(en, 'en-IE')).toBe(
      ['Windows for small businesses.', `Offer URI: ${en.offerUri}`, 'Quantity: 2 to 10'].join('\n'),
    );
    // No short description: no empty first line.
    expect(productDescription(offer({ shortDescription: null }), 'en-US').split('\n')[0]).toMatch(
      /^Offer URI: /,
    );
  });

  it('refuses a currency that is not an ISO 4217 code', () => {
    expect(() =>
      hostProductFor(offer(), { instanceId: 'i', language: 'en-US', currency: 'eur', catalogStatus: 'new' }),
    ).toThrow(RangeError);
  });

  it('the product type is the one the manifest declares, with one drop-down of all offer URIs, sorted and unique', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../plugin.manifest.json'), 'utf8')) as {
      productTypes: Array<Record<string, unknown>>;
    };
    const declared = manifest.productTypes.find((t) => t.code === MICROSOFT_ESD_PRODUCT_TYPE);
    const type = microsoftEsdProductType(['urn:b', 'urn:a', 'urn:b', 'urn:c']);
    const { properties, ...rest } = type;
    expect(rest).toEqual(declared);
    expect(properties).toEqual([
      { code: OFFER_URI_PROPERTY, name: 'Offer URI', kind: 'drop-down', values: ['urn:a', 'urn:b', 'urn:c'] },
    ]);
    // The same URIs in another order give an identical definition (an idempotent upsert).
    expect(microsoftEsdProductType(['urn:c', 'urn:b', 'urn:a'])).toEqual(type);
  });
});
