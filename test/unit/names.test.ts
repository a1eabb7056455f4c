import {
  cleanPrefix,
  completeTemplate,
  DEFAULT_NAME_TEMPLATE,
  databasePart,
  deploymentMarker,
  executionName,
  findReplicaName,
  isValidExecutionName,
  MAX_PREFIX_LENGTH,
  prefixesOverlap,
  replicaName,
  replicaNameCandidates,
  replicaPrefix,
} from '../../src/contracts/names';
import { isValidDbInstanceIdentifier } from '../../src/contracts/rds';
import { prng } from './prng';

const T = '2026-11-23T19:21:47.123Z';
const none = () => false;

describe('replicaName examples', () => {
  it('is <prefix>-<UTC yyyymmddthhmmss>', () => {
    expect(replicaName('orders', T, none)).toBe('orders-20261123t192147');
    expect(replicaName('orders', '2026-11-23T20:21:47+01:00', none)).toBe('orders-20261123t192147');
    expect(replicaName('orders', new Date(T), none)).toBe('orders-20261123t192147');
  });

  it('cleans the prefix', () => {
    expect(cleanPrefix('Orders_DB')).toBe('orders-db');
    expect(cleanPrefix('orders--db')).toBe('orders-db');
    expect(cleanPrefix('orders-')).toBe('orders');
    expect(cleanPrefix('--orders')).toBe('orders');
    expect(cleanPrefix('2024-orders')).toBe('db-2024-orders');
    expect(cleanPrefix('')).toBe('db');
    expect(cleanPrefix('___')).toBe('db');
    expect(cleanPrefix('ünïcode.db')).toBe('n-code-db');
    expect(cleanPrefix('a'.repeat(80))).toBe('a'.repeat(MAX_PREFIX_LENGTH));
    // a cut that lands on a hyphen leaves no trailing hyphen
    expect(cleanPrefix(`${'a'.repeat(MAX_PREFIX_LENGTH - 1)}-bbbb`)).toBe('a'.repeat(MAX_PREFIX_LENGTH - 1));
  });

  it('adds -2, -3, ... on collision, with a Set (ignoring case) or a predicate', () => {
    expect(replicaName('orders', T, new Set(['ORDERS-20261123T192147']))).toBe('orders-20261123t192147-2');
    const taken = new Set(['orders-20261123t192147', 'orders-20261123t192147-2']);
    expect(replicaName('orders', T, (id) => taken.has(id))).toBe('orders-20261123t192147-3');
  });

  it('throws NoFreeReplicaName when every suffix is taken', () => {
    expect(() => replicaName('orders', T, () => true)).toThrow(
      expect.objectContaining({
        name: 'NoFreeReplicaName',
        message: expect.stringContaining('orders-20261123t192147-99'),
      }),
    );
  });

  it('checks asynchronously, stopping at the first free name', async () => {
    const asked: string[] = [];
    const name = await findReplicaName('orders', T, async (id) => {
      asked.push(id);
      return asked.length < 3;
    });
    expect(name).toBe('orders-20261123t192147-3');
    expect(asked).toEqual(['orders-20261123t192147', 'orders-20261123t192147-2', 'orders-20261123t192147-3']);
  });

  it('rejects an invalid time', () => {
    expect(() => replicaName('orders', '2026-11-23', none)).toThrow(RangeError);
    expect(() => replicaName('orders', new Date(Number.NaN), none)).toThrow(RangeError);
  });
});

describe('replicaName properties over many prefixes', () => {
  const rand = prng(20261123);
  const alphabet = 'abcXYZ0129-_.-- /é😀';
  const prefixes = [
    'a'.repeat(80),
    `${'a'.repeat(43)}--b`,
    `a${'-'.repeat(70)}b`,
    '0123456789',
    '9-lives-',
    'trailing-',
    '-',
    '',
    ...Array.from({ length: 400 }, () => rand.string(alphabet, 0, 90)),
  ];
  const times = Array.from({ length: 400 }, () =>
    new Date(Date.UTC(2000, 0, 1) + rand.int(0, 60 * 365 * 86400) * 1000).toISOString(),
  );

  it('always gives valid RDS identifiers, even with every suffix', () => {
    const bad: { prefix: string; id: string }[] = [];
    for (const prefix of prefixes) {
      for (const id of replicaNameCandidates(prefix, T)) {
        if (!isValidDbInstanceIdentifier(id) || id !== id.toLowerCase()) bad.push({ prefix, id });
      }
    }
    expect(bad).toEqual([]);
    expect(prefixes.length).toBeGreaterThan(400);
  });

  it('is deterministic', () => {
    for (const prefix of prefixes) expect(replicaName(prefix, T, none)).toBe(replicaName(prefix, T, none));
  });

  it('sorts by snapshot time for a given prefix, suffixes included', () => {
    for (const prefix of prefixes.slice(0, 40)) {
      const entries = times.map((t, i) => {
        const suffixed = i % 3 === 0;
        const id = suffixed
          ? replicaNameCandidates(prefix, t)[rand.int(1, 98)]!
          : replicaName(prefix, t, none);
        return { t: Date.parse(t), id };
      });
      const byName = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const outOfOrder = byName.filter((e, i) => i > 0 && e.t < byName[i - 1]!.t);
      expect({ prefix, outOfOrder }).toEqual({ prefix, outOfOrder: [] });
    }
  });

  it('gives different times different names', () => {
    const names = new Set(times.map((t) => replicaName('orders', t, none)));
    expect(names.size).toBe(new Set(times.map((t) => t.slice(0, 19))).size);
  });
});

describe('replicaPrefix: the database and the deployment marker are in every name', () => {
  const DEP = 'rds-replica-destination-dev';
  const MARK = deploymentMarker(DEP);

  it('marks names with rr + 6 hex of the deployment id, different per deployment', () => {
    expect(MARK).toMatch(/^rr[0-9a-f]{6}$/);
    expect(deploymentMarker('rds-replica-destination-prod')).not.toBe(MARK);
  });

  it('appends a missing {database} or {deployment}; the default template has both', () => {
    expect(completeTemplate(undefined)).toBe(DEFAULT_NAME_TEMPLATE);
    expect(completeTemplate('')).toBe('{database}-{deployment}');
    expect(completeTemplate('replica')).toBe('replica-{database}-{deployment}');
    expect(completeTemplate('{deployment}-{database}')).toBe('{deployment}-{database}');
    expect(completeTemplate('{database}')).toBe('{database}-{deployment}');
  });

  it('examples', () => {
    expect(replicaPrefix(undefined, 'orders-db', DEP)).toBe(`orders-db-${MARK}`);
    expect(replicaPrefix('replica', 'orders-db', DEP)).toBe(`replica-orders-db-${MARK}`);
    expect(replicaPrefix('replica', 'billing-db', DEP)).not.toBe(replicaPrefix('replica', 'orders-db', DEP));
    expect(replicaPrefix('{deployment}-{database}', 'Orders-DB', DEP)).toBe(`${MARK}-orders-db`);
  });

  it('shortens a database identifier that does not fit to its head and 6 hex of its sha256', () => {
    const long = `analytics-${'x'.repeat(48)}-db63`;
    expect(long).toHaveLength(63);
    const prefix = replicaPrefix(undefined, long, DEP);
    expect(prefix).toMatch(new RegExp(`^analytics-x+-[0-9a-f]{6}-${MARK}$`));
    expect(prefix).toHaveLength(MAX_PREFIX_LENGTH);
    // the last name of the sequence is still a valid identifier
    expect(isValidDbInstanceIdentifier(replicaNameCandidates(prefix, T).at(-1))).toBe(true);
    // a different tail gives a different prefix
    expect(replicaPrefix(undefined, `${long.slice(0, 62)}4`, DEP)).not.toBe(prefix);
    // no hyphen before the hash is doubled
    expect(databasePart(`abc-${'d'.repeat(40)}`, 11)).toMatch(/^abc-[0-9a-f]{6}$/);
    expect(() => databasePart('orders-db', 5)).toThrow(RangeError);
  });

  it('refuses a template that leaves no room or makes no valid identifier', () => {
    expect(() => replicaPrefix('x'.repeat(40), 'orders-db', DEP)).toThrow(/no room/);
    expect(() => replicaPrefix('Replica_{database}', 'orders-db', DEP)).toThrow(/not a valid start/);
    expect(() => replicaPrefix('1-{database}', 'orders-db', DEP)).toThrow(/not a valid start/);
  });

  it('gives valid, distinct, non-overlapping prefixes for random databases and templates', () => {
    const rand = prng(99);
    const templates = [
      undefined,
      'replica',
      'r-{database}',
      '{deployment}-{database}',
      'replica-{database}-x',
    ];
    for (const template of templates) {
      const dbs = new Set<string>();
      while (dbs.size < 60) {
        const len = rand.int(1, 63);
        let db = `${rand.pick([...'abcz'])}${rand.string('ab0-', len - 1, len - 1)}`.replace(/-+/g, '-');
        db = db.replace(/-$/, 'z');
        dbs.add(db);
      }
      const prefixes = [...dbs].map((db) => ({ db, prefix: replicaPrefix(template, db, DEP) }));
      for (const { db, prefix } of prefixes) {
        const last = replicaNameCandidates(prefix, T).at(-1)!;
        expect({ db, template, valid: isValidDbInstanceIdentifier(last) }).toEqual({
          db,
          template,
          valid: true,
        });
        expect(prefix).toContain(MARK);
      }
      const overlapping = prefixes.flatMap((a, i) =>
        prefixes
          .slice(i + 1)
          .filter(
            (b) =>
              prefixesOverlap(a.prefix, b.prefix) &&
              !a.db.startsWith(`${b.db}-`) &&
              !b.db.startsWith(`${a.db}-`),
          ),
      );
      expect({ template, overlapping }).toEqual({ template, overlapping: [] });
    }
  });

  it('prefixesOverlap: equal, or one followed by a hyphen starts the other', () => {
    expect(prefixesOverlap('a-rr1', 'a-rr1')).toBe(true);
    expect(prefixesOverlap('a-rr1', 'a-rr1-b')).toBe(true);
    expect(prefixesOverlap('a-b-rr1', 'a-rr1')).toBe(false);
    expect(prefixesOverlap('orders-rr1', 'orders-db-rr1')).toBe(false);
  });
});

describe('executionName', () => {
  const arn = 'arn:aws:rds:eu-west-1:111111111111:snapshot:rds-replica-orders-db-1';

  it('is <database>-<time>-<8 hex of sha256(snapshot ARN)>', () => {
    expect(executionName('orders-db', T, arn)).toMatch(/^orders-db-20261123t192147-[0-9a-f]{8}$/);
    expect(executionName('orders-db', T, arn)).toBe(executionName('Orders-DB', T, arn));
    expect(executionName('orders-db', T, arn)).not.toBe(executionName('orders-db', T, `${arn}x`));
  });

  it('is a valid Step Functions name for any database identifier', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const db = `${rand.pick([...'abcXYZ'])}${rand.string('abc0129-', 0, 62)}`;
      const name = executionName(db, T, arn);
      expect({ db, name, valid: isValidExecutionName(name) }).toEqual({ db, name, valid: true });
    }
    expect(executionName(`o${'r'.repeat(62)}`, T, arn)).toHaveLength(80);
  });
});
