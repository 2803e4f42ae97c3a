import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ESD_PERMISSIONS } from '../../src/host/principal';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));

describe('plugin.manifest.json', () => {
  const manifest = read('plugin.manifest.json');
  const schema = read('plugin.manifest.schema.json');
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);

  it('is valid against the schema the package ships', () => {
    expect(validate(manifest)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });

  it('the schema refuses a manifest that breaks the contract', () => {
    expect(validate({ ...manifest, kind: 'payment-gateway' })).toBe(false);
    expect(validate({ ...manifest, hooks: { order: true } })).toBe(false);
    expect(validate({ ...manifest, surprise: 1 })).toBe(false);
    const { entry: _entry, ...withoutEntry } = manifest;
    expect(validate(withoutEntry)).toBe(false);
  });

  it("has package.json's version and declares the contract's product type, hooks and jobs", () => {
    expect(manifest.version).toBe(read('package.json').version);
    expect(manifest.id).toBe('microsoft-esd');
    expect(manifest.productTypes).toEqual([
      {
        code: 'MICROSOFT_ESD',
        name: 'Microsoft ESD',
        billing: 'one-time',
        quantityPerItem: 1,
        returnable: true,
      },
    ]);
    expect(manifest.hooks).toEqual({ precheck: true, order: true, cancel: true, status: true });
    expect(manifest.jobs.map((j: { name: string }) => j.name)).toEqual([
      'catalog-sync',
      'token-status-sync',
      'sweeper',
    ]);
    // The permission names the code checks are the ones the manifest declares to the host.
    expect(manifest.permissions).toEqual([...ESD_PERMISSIONS]);
  });

  it('ships in the package: the files list covers the manifest, its schema, the entry and the migrations', () => {
    const pkg = read('package.json');
    expect(pkg.files).toEqual(
      expect.arrayContaining(['plugin.manifest.json', 'plugin.manifest.schema.json']),
    );
    const covered = (file: string) => pkg.files.some((f: string) => file === f || file.startsWith(`${f}/`));
    expect(covered(manifest.entry)).toBe(true);
    expect(covered(path.dirname(manifest.migrations))).toBe(true);
    expect(pkg.main).toBe(manifest.entry);
  });

  it('entry and module resolve after a build, and the migrations glob finds the compiled migrations', () => {
    const entry = path.join(root, manifest.entry);
    expect(fs.existsSync(entry)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exports = require(entry);
    expect(typeof exports[manifest.module]).toBe('function');
    expect(typeof exports[manifest.module].forRootAsync).toBe('function');
    const dir = path.join(root, path.dirname(manifest.migrations));
    const compiled = fs.readdirSync(dir).filter((f) => /^\d{13}-[A-Z][A-Za-z]+\.js$/.test(f));
    const sources = fs
      .readdirSync(path.join(root, 'migrations'))
      .filter((f) => /^\d{13}-[A-Z][A-Za-z]+\.ts$/.test(f));
    expect(sources.length).toBeGreaterThan(0);
    expect(compiled.sort()).toEqual(sources.map((f) => f.replace(/\.ts$/, '.js')).sort());
  });
});
