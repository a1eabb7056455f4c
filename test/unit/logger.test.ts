import { createLogger, isSensitiveKey, parseLogLevel, REDACTED, redact } from '../../src/lib/logger';

const collect = (level?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT') => {
  const lines: string[] = [];
  const log = createLogger({ level, service: 'test', sink: (l) => lines.push(l) });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
};

describe('logger', () => {
  it('writes one JSON object per line with level, timestamp, service, message and fields', () => {
    const { log, parsed } = collect('INFO');
    log.info('started replication', { executionName: 'orders-x' });
    const [line] = parsed();
    expect(line).toEqual({
      level: 'INFO',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      service: 'test',
      message: 'started replication',
      executionName: 'orders-x',
    });
  });

  it('filters by level', () => {
    const { log, parsed } = collect('WARN');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(parsed().map((l) => l.level)).toEqual(['WARN', 'ERROR']);
    const silent = collect('SILENT');
    silent.log.error('x');
    expect(silent.lines).toEqual([]);
  });

  it('reads LOG_LEVEL', () => {
    expect(parseLogLevel('debug')).toBe('DEBUG');
    expect(parseLogLevel(' Warning ')).toBe('WARN');
    expect(parseLogLevel('nonsense')).toBe('INFO');
    expect(parseLogLevel(undefined)).toBe('INFO');
    const saved = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'ERROR';
    try {
      const lines: string[] = [];
      const log = createLogger({ sink: (l) => lines.push(l) });
      log.warn('hidden');
      log.error('shown');
      expect(lines).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
  });

  it('never prints secret values, at any depth, in any container', () => {
    const { log, lines } = collect('DEBUG');
    const secretString = JSON.stringify({ username: 'app', password: 'hunter2-top' });
    log.info('debugging', {
      secretId: 'rds-replica/orders-db',
      response: { SecretString: secretString, VersionId: 'v1', ARN: 'arn:x' },
      list: [{ nested: { Password: 'hunter2-a', MasterUserPassword: 'hunter2-b' } }],
      payload: secretString, // a secret's JSON under an innocent key
      headers: { Authorization: 'Bearer hunter2-c', 'x-amz-security-token': 'hunter2-d' },
      client_secret: 'hunter2-e',
      map: new Map([['db_password', 'hunter2-f']]),
      SecretBinary: new Uint8Array([104, 117, 110]),
    });
    const out = lines.join('\n');
    expect(out).not.toMatch(/hunter2/);
    const [line] = lines.map((l) => JSON.parse(l));
    expect(line.secretId).toBe('rds-replica/orders-db'); // an identifier, not a value
    expect(line.response).toEqual({ SecretString: REDACTED, VersionId: 'v1', ARN: 'arn:x' });
    expect(JSON.parse(line.payload)).toEqual({ username: 'app', password: REDACTED });
  });

  it('redacts inside errors and survives cycles', () => {
    const error = Object.assign(new Error('boom'), { password: 'hunter2' });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const { log, lines } = collect('INFO');
    log.error('failed', { error, cyclic });
    expect(lines[0]).not.toContain('hunter2');
    const line = JSON.parse(lines[0]!);
    expect(line.error).toEqual(
      expect.objectContaining({ name: 'Error', message: 'boom', password: REDACTED }),
    );
    expect(line.cyclic.self).toBe('[Circular]');
  });

  it('keeps fixed keys from being overwritten and adds child fields', () => {
    const { log, parsed } = collect('INFO');
    log.child({ requestId: 'r-1' }).info('real message', { message: 'fake', level: 'DEBUG' });
    expect(parsed()[0]).toEqual(
      expect.objectContaining({ message: 'real message', level: 'INFO', requestId: 'r-1' }),
    );
  });

  it('classifies keys', () => {
    for (const k of [
      'password',
      'PASSWORD',
      'masterUserPassword',
      'secret',
      'SecretString',
      'api_key',
      'sessionToken',
    ]) {
      expect({ k, sensitive: isSensitiveKey(k) }).toEqual({ k, sensitive: true });
    }
    for (const k of [
      'secretId',
      'SecretId',
      'secretArn',
      'host',
      'username',
      'ClientRequestToken',
      'dbInstanceIdentifier',
    ]) {
      expect({ k, sensitive: isSensitiveKey(k) }).toEqual({ k, sensitive: false });
    }
    expect(redact('plain text')).toBe('plain text');
  });
});
