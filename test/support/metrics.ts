/** Reading the plugin's `GET /esd/metrics` in tests. */

/** Prometheus text, read as `name{labels} value` lines; a sample not yet exported reads 0. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2] === undefined ? [] : match[2].split(',');
    if (wanted.length === have.length && wanted.every((l) => have.includes(l))) return Number(match[3]);
  }
  return 0;
}
