import {
  checkSecret,
  ENDPOINT_KEYS,
  liveDbInstanceIdentifier,
  mergeEndpoint,
} from '../../src/contracts/secret';

const ID = 'rds-replica/orders-db';
const endpoint = {
  host: 'orders-20261123t192147.abc.eu-west-1.rds.amazonaws.com',
  port: 5432,
  dbInstanceIdentifier: 'orders-20261123t192147',
  engine: 'postgres',
};

describe('checkSecret', () => {
  it('returns the parsed standard RDS secret', () => {
    const s = checkSecret(
      ID,
      '{"username":"app","password":"p4ss","host":"h","dbInstanceIdentifier":"orders-1"}',
    );
    expect(s).toEqual({ username: 'app', password: 'p4ss', host: 'h', dbInstanceIdentifier: 'orders-1' });
    expect(liveDbInstanceIdentifier(s)).toBe('orders-1');
    expect(liveDbInstanceIdentifier(checkSecret(ID, '{"username":"a","password":"b"}'))).toBeNull();
  });

  it.each([
    [
      '{"username":"app"}',
      "secret rds-replica/orders-db has no key 'password' (expected the standard RDS secret JSON)",
    ],
    [
      '{"password":"x"}',
      "secret rds-replica/orders-db has no key 'username' (expected the standard RDS secret JSON)",
    ],
    ['{"username":"app","password":""}', "key 'password' must be a non-empty string"],
    ['{"username":"app","password":42}', "key 'password' must be a non-empty string"],
    ['not json at all', 'secret rds-replica/orders-db is not valid JSON'],
    ['["username","password"]', 'is an array, not a JSON object'],
    ['"just a string"', 'is a string, not a JSON object'],
    ['null', 'is null, not a JSON object'],
    [
      '{"username":"a","password":"b","dbInstanceIdentifier":7}',
      "key 'dbInstanceIdentifier' must be a string",
    ],
  ])('rejects %s with InvalidSecret', (text, message) => {
    expect(() => checkSecret(ID, text)).toThrow(
      expect.objectContaining({ name: 'InvalidSecret', message: expect.stringContaining(message) }),
    );
  });

  it('rejects a binary secret', () => {
    expect(() => checkSecret(ID, undefined)).toThrow(/has no SecretString/);
  });

  it('never puts the secret into the error, even when the JSON is broken next to the password', () => {
    const text = '{"username":"app","password":"hunter2-s3cr3t" oops}';
    try {
      checkSecret(ID, text);
      throw new Error('expected InvalidSecret');
    } catch (e) {
      expect((e as Error).name).toBe('InvalidSecret');
      expect((e as Error).message).not.toContain('hunter2');
      expect((e as Error).message).not.toContain('oops');
    }
  });
});

describe('mergeEndpoint', () => {
  it('rewrites only the endpoint keys, in place, and returns the previous instance', () => {
    const before =
      '{"username":"app","password":"p\\u00e4ss\\"w\\\\rd","engine":"postgres","host":"old.example","port":5432,' +
      '"dbname":"orders","dbInstanceIdentifier":"orders-20261001t000000","extra":{"nested":[1,2.50,{"k":"é😀"}],"n":1e3}}';
    const r = mergeEndpoint(before, endpoint, ID);
    expect(r.previousDbInstanceIdentifier).toBe('orders-20261001t000000');
    expect(r.unchanged).toBe(false);
    expect(r.secretString).toBe(
      '{"username":"app","password":"p\\u00e4ss\\"w\\\\rd","engine":"postgres",' +
        '"host":"orders-20261123t192147.abc.eu-west-1.rds.amazonaws.com","port":5432,' +
        '"dbname":"orders","dbInstanceIdentifier":"orders-20261123t192147","extra":{"nested":[1,2.50,{"k":"é😀"}],"n":1e3}}',
    );
  });

  it('keeps pretty-printing, unicode escapes and number spellings of other keys byte for byte', () => {
    const before = [
      '{',
      '  "username" : "\\u0061pp",',
      '  "password": "ÿ\\ud83d\\ude00 \\/ }{ ,\\"",',
      '  "host": "old",',
      '  "options": {',
      '    "sslmode": "require", "dbInstanceIdentifier": "not-top-level", "list": [ {"host": "x"} ]',
      '  },',
      '  "port": 5432.0,',
      '  "weird key \\"}": null,',
      '  "dbInstanceIdentifier": "old-1"',
      '}',
      '',
    ].join('\n');
    const r = mergeEndpoint(before, endpoint, ID);
    const after = r.secretString;
    // every line except the three endpoint values is unchanged
    const expected = before
      .replace('"host": "old"', `"host": "${endpoint.host}"`)
      .replace('"port": 5432.0', '"port": 5432')
      .replace(
        '"dbInstanceIdentifier": "old-1"',
        '"dbInstanceIdentifier": "orders-20261123t192147",\n  "engine": "postgres"',
      );
    expect(after).toBe(expected);
    const parsed = JSON.parse(after);
    expect(parsed.options.dbInstanceIdentifier).toBe('not-top-level');
    expect(parsed.options.list[0].host).toBe('x');
    expect(Object.keys(parsed)).toEqual([
      'username',
      'password',
      'host',
      'options',
      'port',
      'weird key "}',
      'dbInstanceIdentifier',
      'engine',
    ]);
  });

  it('appends missing endpoint keys (first replication into a fresh secret)', () => {
    const r = mergeEndpoint('{"username":"app","password":"x"}', endpoint, ID);
    expect(r.previousDbInstanceIdentifier).toBeNull();
    expect(r.secretString).toBe(
      '{"username":"app","password":"x","host":"orders-20261123t192147.abc.eu-west-1.rds.amazonaws.com",' +
        '"port":5432,"dbInstanceIdentifier":"orders-20261123t192147","engine":"postgres"}',
    );
    const empty = mergeEndpoint(' { } ', endpoint, ID).secretString;
    expect(JSON.parse(empty)).toEqual(endpoint);
    expect(empty.startsWith(' { "host":')).toBe(true);
    expect(empty.endsWith('"engine":"postgres"} ')).toBe(true);
  });

  it('keeps a string port a string', () => {
    const r = mergeEndpoint('{"username":"a","password":"b","port":"3306"}', { ...endpoint, port: 3307 }, ID);
    expect(JSON.parse(r.secretString).port).toBe('3307');
  });

  it('rewrites every duplicate of an endpoint key', () => {
    const r = mergeEndpoint('{"host":"a","username":"u","host":"b"}', endpoint, ID);
    expect(r.secretString.match(/orders-20261123t192147\.abc/g)).toHaveLength(2);
    expect(r.secretString).toContain('"username":"u"');
  });

  it('matches keys by their decoded name', () => {
    const r = mergeEndpoint('{"h\\u006fst":"old","username":"u"}', endpoint, ID);
    expect(r.secretString.startsWith(`{"h\\u006fst":"${endpoint.host}"`)).toBe(true);
  });

  it('reports unchanged and returns the very same text when already merged', () => {
    const once = mergeEndpoint('{"username":"a","password":"b"}', endpoint, ID).secretString;
    const pretty = JSON.stringify(JSON.parse(once), null, 2);
    const twice = mergeEndpoint(pretty, endpoint, ID);
    expect(twice.unchanged).toBe(true);
    expect(twice.secretString).toBe(pretty);
    expect(twice.previousDbInstanceIdentifier).toBe(endpoint.dbInstanceIdentifier);
  });

  it('throws InvalidSecret on text that is not a JSON object', () => {
    expect(() => mergeEndpoint('[1]', endpoint, ID)).toThrow(
      expect.objectContaining({ name: 'InvalidSecret' }),
    );
    expect(() => mergeEndpoint('{', endpoint, ID)).toThrow(
      expect.objectContaining({ name: 'InvalidSecret' }),
    );
  });

  it('rewrites exactly the contract endpoint keys', () => {
    expect(ENDPOINT_KEYS).toEqual(['host', 'port', 'dbInstanceIdentifier', 'engine']);
  });
});
