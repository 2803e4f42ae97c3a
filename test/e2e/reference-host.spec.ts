import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { ReferenceHostCatalog } from '../../sandbox/host/host-ports';
import { ReferenceHost, startReferenceHost } from '../../sandbox/host/reference-host';
import { createTestDatabase, TestDatabase } from '../support/databases';
import { requireService } from '../support/services';

describe.each(['sqlite', 'postgres', 'mariadb'] as const)(
  'reference host on %s, plugin loaded from its manifest',
  (kind) => {
    let db: TestDatabase;
    let host: ReferenceHost;

    beforeAll(async () => {
      const redisUrl = await requireService('redis');
      db = await createTestDatabase(kind);
      host = await startReferenceHost({
        databaseUrl: db.url,
        redisUrl,
        secretKey: randomBytes(32).toString('base64'),
      });
    });

    afterAll(async () => {
      await host?.close();
      await db?.drop();
    });

    it('loaded the module the manifest names, from the compiled entry', () => {
      expect(host.plugin.manifest.module).toBe('MicrosoftEsdModule');
      expect(require.resolve(`${host.plugin.root}/${host.plugin.manifest.entry}`)).toMatch(
        /dist\/src\/index\.js$/,
      );
    });

    it('ran the host’s and the plugin’s migrations', async () => {
      const tables = await host.dataSource.query(
        kind === 'sqlite'
          ? "SELECT name FROM sqlite_master WHERE type = 'table'"
          : kind === 'postgres'
            ? 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()'
            : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
      );
      const names = (tables as Array<{ name: string }>).map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'host_account',
          'host_product',
          'host_order',
          'host_invoice',
          'esd_instance',
          'esd_license',
        ]),
      );
    });

    it('GET /esd/health answers without a principal: database and Redis reachable, queue depths', async () => {
      const response = await request(host.url).get('/esd/health').expect(200);
      expect(response.body).toMatchObject({ status: 'ok', problems: [] });
      expect(response.body.checks).toEqual(
        expect.arrayContaining([
          { name: 'database', status: 'ok' },
          { name: 'redis', status: 'ok' },
        ]),
      );
      expect(response.body.queues['esd-provisioning']).toMatchObject({ waiting: 0, failed: 0 });
    });

    it('the host’s routes need a principal and keep to their roles', async () => {
      await request(host.url).get('/host/products').expect(401);
      await request(host.url).get('/host/products').set('x-principal', 'nobody').expect(401);
      const created = await request(host.url)
        .post('/host/accounts')
        .set('x-principal', 'reseller:R1')
        .send({ name: 'Anna Papadopoulou', email: 'anna@example.gr', country: 'GR', locale: 'el-GR' })
        .expect(201);
      expect(created.body.accountId).toMatch(/^[0-9a-f-]{36}$/);
      await request(host.url)
        .post('/host/accounts')
        .set('x-principal', 'customer:C1')
        .send({ name: 'X', email: 'x@example.gr', country: 'GR', locale: 'el-GR' })
        .expect(403);
      await request(host.url)
        .post('/host/accounts')
        .set('x-principal', 'admin')
        .send({ name: 'X', email: 'not-an-email', country: 'GR', locale: 'el-GR', extra: 1 })
        .expect(400);
      const page = await request(host.url).get('/host/products?limit=501').set('x-principal', 'admin');
      expect(page.status).toBe(400);
      const empty = await request(host.url).get('/host/products').set('x-principal', 'admin').expect(200);
      expect(empty.body).toEqual({ items: [], nextCursor: null });
      // The order pipeline is mounted with the loaded package's hooks: it answers, and checks before it asks.
      await request(host.url).post('/host/orders').send({}).expect(401);
      const malformed = await request(host.url)
        .post('/host/orders')
        .set('x-principal', 'reseller:R1')
        .send({ customerAccountId: created.body.accountId, items: [] })
        .expect(400);
      expect(malformed.body.code).toBe('VALIDATION_FAILED');
      const noProduct = await request(host.url)
        .post('/host/orders')
        .set('x-principal', 'reseller:R1')
        .send({ customerAccountId: created.body.accountId, items: [{ productId: 'none', quantity: 1 }] })
        .expect(422);
      expect(noProduct.body.details.items[0].violations[0].code).toBe('PRODUCT_NOT_FOUND');
      // A product on sale whose instance the plugin does not know: the plugin's own precheck refuses it.
      const [pushed] = await new ReferenceHostCatalog(host.dataSource, 'EUR').upsertProducts([
        {
          instanceId: randomUUID(),
          code: 'CFQ7TTC0LH18',
          name: 'Office Home 2024',
          description: '',
          productType: 'MICROSOFT_ESD',
          properties: {},
          charge: 'one-time-prepaid',
          currency: 'EUR',
          returnable: true,
          minQuantity: 1,
          maxQuantity: 10,
          catalogStatus: 'new',
          defaults: { priceMinor: 0, active: false, published: false },
        },
      ]);
      await request(host.url)
        .patch(`/host/products/${pushed.hostProductId}`)
        .set('x-principal', 'admin')
        .send({ active: true, published: true, priceMinor: 14900 })
        .expect(200);
      const refused = await request(host.url)
        .post('/host/orders')
        .set('x-principal', 'reseller:R1')
        .send({
          customerAccountId: created.body.accountId,
          items: [{ productId: pushed.hostProductId, quantity: 1 }],
        })
        .expect(422);
      expect(refused.body.details.items[0].violations).toEqual([
        expect.objectContaining({ code: 'INSTANCE_NOT_READY' }),
      ]);
      const invoices = await request(host.url).get('/host/invoices').set('x-principal', 'admin').expect(200);
      expect(invoices.body).toEqual({ items: [], nextCursor: null });
    });
  },
);
