/** `npm run bench [-- name]`: runs the named benchmark, or all of them. Each prints ratios measured in one run. */
import { catalogDiffBench } from './catalog-diff.bench';
import { catalogBench } from './catalog.bench';
import { provisioningBench } from './provisioning.bench';

const BENCHES: Record<string, () => void | Promise<void>> = {
  'catalog-diff': catalogDiffBench,
  catalog: catalogBench,
  provisioning: provisioningBench,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark ${unknown.join(', ')}; there are: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) await BENCHES[name]();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
