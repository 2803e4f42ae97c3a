/**
 * The secret scan's pure logic (issue 9 item 4): what a secret looks like in captured output, which HTTP responses
 * are scanned, how a finding is shown without the secret, and the end-of-run scan of a capture directory that
 * `secret-capture.ts` filled. No Jest here: `npm run build` compiles this with the rest of `test/support`.
 *
 * Two ways a secret is recognised:
 * - by PATTERN, whatever made it: a whole 5x5 product key (the masked `*****-*****-*****-*****-XXXXX` is not
 *   one), a PEM private key, a JWT, a bearer token or an `access_token` field;
 * - by VALUE, for secrets with no shape of their own: the PFX (base64), its password, a private key's body and the
 *   sandbox's access tokens (43 opaque base64url characters, not JWTs) that the test processes registered. A value
 *   is cut into {@link WINDOW}-character pieces; any {@link MIN_VALUE_LEAK} characters of it in a row are found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** One captured record, a line of `<pid>.log` (JSON). */
export interface CaptureRecord {
  /** `stdout` / `stderr` of a test process, `console` of a test file, a `child` process's output, a `response`. */
  t: 'stdout' | 'stderr' | 'console' | 'child' | 'response';
  /** The stream the text belongs to (records of one source are consecutive pieces of one text). */
  src: string;
  /** The test file (and test) that was running, if any. */
  test?: string;
  data: string;
  /** On a response's last record. */
  end?: boolean;
  /** A response's status code, on its last record. */
  status?: number;
}

/** One registered secret value, a line of `<pid>.secrets` (JSON). */
export interface SecretRecord {
  kind: string;
  value: string;
}

/** A secret found in a text: its kind and where it is (the whole secret, so it can be blanked). */
export interface Finding {
  kind: string;
  start: number;
  end: number;
}

/** Length of the pieces a registered value is cut into. */
export const WINDOW = 24;
/** Registered values are cut at every STRIDE-th character: less memory, and a run still finds any long piece. */
const STRIDE = 8;
/** The fewest characters of a registered value in a row that the scan is sure to find. */
export const MIN_VALUE_LEAK = WINDOW + STRIDE - 1;

export const SECRET_KINDS = {
  productKey: 'full product key',
  pemPrivateKey: 'PEM private key',
  jwt: 'JWT (access token or client assertion)',
  bearer: 'bearer access token',
  accessTokenField: 'access_token value',
} as const;

/**
 * A whole 5x5 key over the alphabet Microsoft's keys use, as the sandbox's do (`PRODUCT_KEY_ALPHABET` in
 * `token-ledger.ts`): no vowels, no L, N, S, Z, 0, 1 or 5, so `ABCDE-FGHIJ-KLMNO-PQRST-7QX4P` (the OpenAPI
 * document's example) is none. Not inside a longer word; a masked key's `*` stops it.
 */
const KEY_GROUP = '[BCDFGHJKMPQRTVWXY2346789]{5}';
const PRODUCT_KEY = new RegExp(`(?<![A-Za-z0-9])${KEY_GROUP}(?:-${KEY_GROUP}){4}(?![A-Za-z0-9])`, 'g');
/** A PEM private key's header (PKCS#8, PKCS#1, SEC1, encrypted): a finding only with a body after it. */
const PEM_HEADER = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
/** What may follow the header: base64, white space, escaped line breaks, the legacy encryption headers. */
const PEM_BODY = /^(?:[A-Za-z0-9+/=\s]|\\[rn]|Proc-Type:[^\n\\]*|DEK-Info:[^\n\\]*)*/;
const PEM_FOOTER = /^-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
/** `header.payload.signature`, both JSON parts starting `{"` (`eyJ`); an unsigned one has no signature. */
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** `Bearer <token>` of an Authorization header; `Bearer [redacted]` is not one. */
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*/g;
/** An `access_token` / `accessToken` field with a value, in JSON, a form or a log line. */
const ACCESS_TOKEN_FIELD = /\baccess_?token\\?"?\s*[:=]\s*\\?["']?[A-Za-z0-9._~+/-]{20,}=*/gi;
/** The patterns above, for the summary line. */
const PATTERN_COUNT = Object.keys(SECRET_KINDS).length;
/** Runs of characters a base64 / base64url value is made of. */
const VALUE_RUN = new RegExp(`[A-Za-z0-9+/=_-]{${WINDOW},}`, 'g');

/**
 * Which in-process HTTP responses the scan reads: the plugin's (`/esd/…`, under any global prefix) and the host's
 * (`/host/…`), but not the two places a secret is shown by design: `…/reveal` (the full key, to its owner) and
 * `/host/notifications` (the welcome notification carries it). The CIS sandbox's routes are Microsoft's side.
 */
export function isScannedResponse(url: string | undefined): boolean {
  if (!url) return false;
  const pathname = url.split(/[?#]/, 1)[0].replace(/\/+$/, '');
  if (!/(^|\/)(esd|host)(\/|$)/.test(pathname)) return false;
  if (/\/reveal$/.test(pathname)) return false;
  if (/(^|\/)host\/notifications$/.test(pathname)) return false;
  return true;
}

/** A registered secret as the scan looks for it: a PEM's body without its armour and line breaks. */
export function secretMaterial(value: string): string {
  if (!value.includes('-----BEGIN')) return value.trim();
  return value
    .split(/\r?\n/)
    .filter((line) => !/^-----|^Proc-Type:|^DEK-Info:/.test(line.trim()))
    .join('')
    .replace(/\s+/g, '');
}

/** The kind under which public material (a certificate) is registered: never a finding, and never part of one. */
export const PUBLIC_KIND = 'public';

/**
 * The registered secret values, as pieces of {@link WINDOW} characters. A piece that public material holds too
 * does not count: a PFX carries its certificate in the clear, and a private key holds the modulus its
 * certificate shows, both base64-encoded alike one time in three.
 */
export class SecretValues {
  private readonly pieces = new Map<string, string>();
  private readonly publicPieces = new Set<string>();
  private count = 0;

  /**
   * Adds a value (too short a one, under {@link WINDOW} characters, cannot be told from noise and is left out);
   * `kind` {@link PUBLIC_KIND} adds public material.
   */
  add(kind: string, value: string): void {
    const material = secretMaterial(value);
    if (material.length < WINDOW) return;
    if (kind === PUBLIC_KIND) {
      for (const text of publicAlignments(material)) {
        for (let i = 0; i + WINDOW <= text.length; i++) this.publicPieces.add(text.slice(i, i + WINDOW));
      }
      return;
    }
    this.count++;
    for (let i = 0; i + WINDOW <= material.length; i += STRIDE)
      this.pieces.set(material.slice(i, i + WINDOW), kind);
    // The tail, so a value whose length is not a multiple of the stride is covered to its end.
    this.pieces.set(material.slice(material.length - WINDOW), kind);
  }

  /** How many secret values were added. */
  get size(): number {
    return this.count;
  }

  /** The kind of the registered value that `run` holds a piece of, if any. */
  find(run: string): string | undefined {
    if (this.pieces.size === 0) return undefined;
    for (let i = 0; i + WINDOW <= run.length; i++) {
      const piece = run.slice(i, i + WINDOW);
      const kind = this.pieces.get(piece);
      if (kind !== undefined && !this.publicPieces.has(piece)) return kind;
    }
    return undefined;
  }
}

/**
 * Public base64 material as it can show: as is, and its bytes encoded from the two other offsets too, so a part
 * of it (a certificate's public key, its modulus) encoded on its own is known to be public as well.
 */
function publicAlignments(material: string): string[] {
  if (!/^[A-Za-z0-9+/]+=*$/.test(material)) return [material];
  const bytes = Buffer.from(material, 'base64');
  // The first quantum of a shifted encoding holds the padding bytes: it is left out.
  const shifted = [1, 2].map((shift) =>
    Buffer.concat([Buffer.alloc(shift), bytes])
      .toString('base64')
      .slice(4),
  );
  return [material, ...shifted];
}

/** Every secret in `text`, by pattern and by registered value, in order; overlapping ones count once. */
export function findSecrets(text: string, values?: SecretValues): Finding[] {
  const found: Finding[] = [];
  for (const m of text.matchAll(PEM_HEADER)) {
    const afterHeader = m.index + m[0].length;
    const body = PEM_BODY.exec(text.slice(afterHeader, afterHeader + 16_384))?.[0] ?? '';
    // A header alone (an error message naming the format) is no key.
    if (!/[A-Za-z0-9+/]{32,}/.test(body)) continue;
    let end = afterHeader + body.length;
    const footer = PEM_FOOTER.exec(text.slice(end));
    if (footer) end += footer[0].length;
    found.push({ kind: SECRET_KINDS.pemPrivateKey, start: m.index, end });
  }
  const patterns: Array<[string, RegExp]> = [
    [SECRET_KINDS.productKey, PRODUCT_KEY],
    [SECRET_KINDS.jwt, JWT],
    [SECRET_KINDS.bearer, BEARER],
    [SECRET_KINDS.accessTokenField, ACCESS_TOKEN_FIELD],
  ];
  for (const [kind, pattern] of patterns) {
    for (const m of text.matchAll(pattern)) found.push({ kind, start: m.index, end: m.index + m[0].length });
  }
  if (values && values.size > 0) {
    for (const m of text.matchAll(VALUE_RUN)) {
      const kind = values.find(m[0]);
      if (kind !== undefined) found.push({ kind, start: m.index, end: m.index + m[0].length });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Finding[] = [];
  for (const finding of found) {
    const last = merged[merged.length - 1];
    if (last && finding.start < last.end) last.end = Math.max(last.end, finding.end);
    else merged.push({ ...finding });
  }
  return merged;
}

const CONTEXT_CHARS = 40;
/** Runs of base64-like characters in a context: the parts between `/` and `=` that look random are blanked. */
const LONG_RUN = /[A-Za-z0-9+/=_-]{16,}/g;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A short excerpt around `finding` with every secret in it (and any long base64-like run) replaced by a
 * `[REDACTED …]` marker, on one line: something to find the leak by that never shows the secret.
 */
export function redactedContext(text: string, finding: Finding, all: Finding[] = [finding]): string {
  const from = Math.max(0, finding.start - CONTEXT_CHARS);
  const to = Math.min(text.length, finding.end + CONTEXT_CHARS);
  let out = '';
  let at = from;
  for (const other of all) {
    if (other.end <= from || other.start >= to) continue;
    const start = Math.max(other.start, at);
    if (start > at) out += blankRuns(text.slice(at, start));
    out += `[REDACTED ${other.kind}]`;
    at = Math.max(at, Math.min(other.end, to));
  }
  if (at < to) out += blankRuns(text.slice(at, to));
  return `${from > 0 ? '…' : ''}${oneLine(out)}${to < text.length ? '…' : ''}`;
}

/** `text` (a label: a URL, a test's name) with any secret in it, and any long base64-like run, blanked. */
export function redactText(text: string, values?: SecretValues): string {
  const findings = findSecrets(text, values);
  let out = '';
  let at = 0;
  for (const finding of findings) {
    out += blankRuns(text.slice(at, finding.start)) + `[REDACTED ${finding.kind}]`;
    at = finding.end;
  }
  return oneLine(out + blankRuns(text.slice(at)));
}

/**
 * `text` with every long random-looking part (upper case, lower case and digits mixed, 16 characters or more, not
 * a UUID) blanked: a secret the scan does not know of could be one. Paths and words stay readable.
 */
function blankRuns(text: string): string {
  return text.replace(LONG_RUN, (run) =>
    run
      .split(/([/=])/)
      .map((part) =>
        part.length >= 16 &&
        !UUID.test(part) &&
        /[a-z]/.test(part) &&
        /[A-Z]/.test(part) &&
        /[0-9]/.test(part)
          ? `[${part.length} chars]`
          : part,
      )
      .join(''),
  );
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r?\n/g, '⏎').replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\t' ? ' ' : '·'));
}

/** A secret found in a capture file, ready to print. */
export interface ScanFinding {
  file: string;
  kind: string;
  /** What wrote it: `stdout`, `child chaos-node 1234 stderr`, `response GET /esd/licenses 200`… */
  source: string;
  test?: string;
  context: string;
}

export interface ScanReport {
  dir: string;
  /** Bytes of stdout, stderr, console and child output read. */
  logBytes: number;
  responses: number;
  /** Test processes (capture files) and child processes whose output was recorded. */
  processes: number;
  /** Registered secret values looked for. */
  values: number;
  findings: ScanFinding[];
}

/** What a source's last text is kept for: a secret cut between two records of it is still found whole. */
const CARRY_CHARS = 16_384;

/** Scans every `*.log` in `dir` for secrets, by pattern and by the values in every `*.secrets` there. */
export async function scanCaptureDir(
  dir: string,
  options: { relativeTo?: string } = {},
): Promise<ScanReport> {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  const values = new SecretValues();
  for (const name of names.filter((n) => n.endsWith('.secrets'))) {
    for await (const line of lines(path.join(dir, name))) {
      const record = parse<SecretRecord>(line);
      if (record && typeof record.value === 'string') values.add(record.kind, record.value);
    }
  }
  const report: ScanReport = {
    dir,
    logBytes: 0,
    responses: 0,
    processes: 0,
    values: values.size,
    findings: [],
  };
  const children = new Set<string>();
  for (const name of names.filter((n) => n.endsWith('.log'))) {
    const file = path.join(dir, name);
    const shown = options.relativeTo ? path.relative(options.relativeTo, file) : file;
    report.processes++;
    const sources = new Map<string, { carry: string; offset: number; reportedUpTo: number }>();
    for await (const line of lines(file)) {
      const record = parse<CaptureRecord>(line);
      if (!record || typeof record.data !== 'string') continue;
      if (record.t === 'response') {
        if (record.end) report.responses++;
      } else {
        report.logBytes += Buffer.byteLength(record.data);
      }
      if (record.t === 'child') children.add(record.src.replace(/ (stdout|stderr)$/, ''));
      const key = `${record.t} ${record.src}`;
      const source = sources.get(key) ?? { carry: '', offset: 0, reportedUpTo: 0 };
      const text = source.carry + record.data;
      const base = source.offset - source.carry.length;
      const findings = findSecrets(text, values);
      for (const finding of findings) {
        if (base + finding.start < source.reportedUpTo) continue;
        source.reportedUpTo = base + finding.end;
        report.findings.push({
          file: shown,
          kind: finding.kind,
          source: redactText(sourceLabel(record), values),
          test: record.test === undefined ? undefined : redactText(testLabel(record.test), values),
          context: redactedContext(text, finding, findings),
        });
      }
      source.offset += record.data.length;
      source.carry = text.slice(-CARRY_CHARS);
      if (record.t === 'response' && record.end) sources.delete(key);
      else sources.set(key, source);
    }
  }
  report.processes += children.size;
  return report;
}

/**
 * The one line a run prints and, when something was found, the findings grouped by file, kind, source and test
 * file, one line a group with its first redacted excerpt.
 */
export function formatScanReport(report: ScanReport, maxShown = 40): string {
  const counts = `${report.logBytes} bytes of logs and ${report.responses} responses from ${report.processes} processes`;
  if (report.findings.length === 0) {
    return `secret scan: ${counts}, no secret found (looked for ${PATTERN_COUNT} patterns and ${report.values} registered secret values)`;
  }
  const groups = new Map<string, { first: ScanFinding; count: number }>();
  for (const finding of report.findings) {
    const key = [finding.file, finding.kind, finding.source, finding.test?.split(' › ')[0]].join('\u0000');
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { first: finding, count: 1 });
  }
  const lines = [...groups.values()].slice(0, maxShown).map(({ first: f, count }) => {
    const where = f.test ? ` during ${f.test}` : '';
    const times = count > 1 ? ` (${count} times, the first:)` : '';
    return `  - ${f.file}: ${f.kind} in ${f.source}${where}${times}: ${f.context}`;
  });
  if (groups.size > maxShown) lines.push(`  … and ${groups.size - maxShown} more groups`);
  return [
    `secret scan: ${counts}, ${report.findings.length} secret(s) found (a secret must appear only in reveal and the welcome notification):`,
    ...lines,
  ].join('\n');
}

function sourceLabel(record: CaptureRecord): string {
  if (record.t === 'stdout' || record.t === 'stderr') return record.t;
  if (record.t !== 'response') return `${record.t} ${record.src}`;
  // `#<n> <METHOD> <url>`: the number only tells responses apart; a long query is cut.
  const [method, url = ''] = record.src.replace(/^#\d+ /, '').split(' ', 2);
  const [pathname, query] = url.split('?', 2);
  const shown = query === undefined ? pathname : query.length > 40 ? `${pathname}?…` : `${pathname}?${query}`;
  return `response ${method} ${shown}${record.status ? ` → ${record.status}` : ''}`;
}

/** A test's full name, cut to a readable length. */
function testLabel(test: string): string {
  return test.length > 160 ? `${test.slice(0, 159)}…` : test;
}

async function* lines(file: string): AsyncGenerator<string> {
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const reader = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of reader) if (line) yield line;
  } finally {
    reader.close();
    input.destroy();
  }
}

function parse<T>(line: string): T | undefined {
  try {
    return JSON.parse(line) as T;
  } catch {
    // A line cut short (a process killed mid-write) is skipped.
    return undefined;
  }
}
