import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { HostEventPayloads } from '../../src/host/ports';
import { HostInvoiceLineRow, HostInvoiceRow, type HostInvoiceType } from './host.entities';

/** The width of `host_invoice_line.description`. */
const DESCRIPTION_LENGTH = 300;

/** One line of an invoice or credit note; amounts are positive on both types (host contract §7). */
export interface InvoiceLine {
  description: string;
  licenseId?: string;
  amountMinor: number;
  currency: string;
}

/** The Invoice wire shape of host contract §7. */
export interface InvoiceView {
  id: string;
  type: HostInvoiceType;
  accountId: string;
  orderId?: string;
  lines: InvoiceLine[];
  totalMinor: number;
  currency: string;
  createdAt: string;
}

/**
 * Stores one invoice or credit note with its lines. `sourceKey` is unique: issuing for the same order or event
 * twice fails on the database's unique key rather than billing twice.
 */
async function issue(
  em: EntityManager,
  document: {
    type: HostInvoiceType;
    accountId: string;
    orderId: string | null;
    sourceKey: string;
    currency: string;
    lines: InvoiceLine[];
  },
): Promise<InvoiceView> {
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  const totalMinor = document.lines.reduce((sum, line) => sum + line.amountMinor, 0);
  await em.getRepository(HostInvoiceRow).insert({
    id,
    type: document.type,
    accountId: document.accountId,
    orderId: document.orderId,
    sourceKey: document.sourceKey,
    totalMinor,
    currency: document.currency,
    createdAt,
  });
  if (document.lines.length === 0) throw new Error(`${document.sourceKey}: a document needs a line`);
  await em.getRepository(HostInvoiceLineRow).insert(
    document.lines.map((line, lineNo) => ({
      id: randomUUID(),
      invoiceId: id,
      lineNo,
      description: line.description.slice(0, DESCRIPTION_LENGTH),
      licenseId: line.licenseId ?? null,
      amountMinor: line.amountMinor,
      currency: line.currency,
    })),
  );
  return {
    id,
    type: document.type,
    accountId: document.accountId,
    ...(document.orderId ? { orderId: document.orderId } : {}),
    lines: document.lines,
    totalMinor,
    currency: document.currency,
    createdAt,
  };
}

/** The invoice of an order: one line per license, billed to the order's bill-to account. */
export function issueOrderInvoice(
  em: EntityManager,
  order: { id: string; billToAccountId: string },
  currency: string,
  lines: InvoiceLine[],
): Promise<InvoiceView> {
  return issue(em, {
    type: 'invoice',
    accountId: order.billToAccountId,
    orderId: order.id,
    sourceKey: `order:${order.id}`,
    currency,
    lines,
  });
}

/**
 * The credit note for a `licenseCancelled` event: the credit the plugin names (the full amount charged), to the
 * account it names. The line reads like the invoice line it reverses, when the host invoiced that license.
 */
export async function issueCreditNote(
  em: EntityManager,
  eventId: string,
  payload: HostEventPayloads['licenseCancelled'],
): Promise<InvoiceView> {
  const invoiced = await em
    .getRepository(HostInvoiceLineRow)
    .createQueryBuilder('l')
    .innerJoin(HostInvoiceRow, 'i', 'i.id = l.invoiceId')
    .where('l.licenseId = :licenseId', { licenseId: payload.licenseId })
    .andWhere('i.type = :type', { type: 'invoice' })
    .getOne();
  return issue(em, {
    type: 'credit-note',
    accountId: payload.accountId,
    orderId: payload.hostOrderId,
    sourceKey: `event:${eventId}`,
    currency: payload.credit.currency,
    lines: [
      {
        description: `Cancelled: ${invoiced?.description ?? `license ${payload.licenseId}`}`,
        licenseId: payload.licenseId,
        amountMinor: payload.credit.amountMinor,
        currency: payload.credit.currency,
      },
    ],
  });
}

/** Invoice rows with their lines, in the §7 shape (one query for the lines of every row). */
export async function invoiceViews(em: EntityManager, rows: HostInvoiceRow[]): Promise<InvoiceView[]> {
  if (rows.length === 0) return [];
  const lines = await em.getRepository(HostInvoiceLineRow).find({
    where: { invoiceId: In(rows.map((r) => r.id)) },
    order: { invoiceId: 'ASC', lineNo: 'ASC' },
  });
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    accountId: row.accountId,
    ...(row.orderId ? { orderId: row.orderId } : {}),
    lines: lines
      .filter((line) => line.invoiceId === row.id)
      .map((line) => ({
        description: line.description,
        ...(line.licenseId ? { licenseId: line.licenseId } : {}),
        amountMinor: line.amountMinor,
        currency: line.currency,
      })),
    totalMinor: row.totalMinor,
    currency: row.currency,
    createdAt: row.createdAt,
  }));
}
