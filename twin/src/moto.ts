// The twin's moto_server: finds a Python with moto 5.2, starts `twin/moto/run.py` (moto plus the
// project's extension `twin/moto/twin_moto.py`) on 127.0.0.1 and a free port, and wraps the
// extension's control API (`/_twin/*`: virtual clock, phase durations, faults).
//
//   npx tsx twin/src/moto.ts --check    prints the moto version found, or how to install it (exit 1)

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const MOTO_VERSION = '5.2.1';
export const MOTO_INSTALL_COMMAND = `pip install 'moto[server]==${MOTO_VERSION}'`;

const ROOT = resolve(__dirname, '..', '..');
const ENTRY = join(ROOT, 'twin', 'moto', 'run.py');
const VENV = join(ROOT, '.venv');
const VENV_PYTHON = join(VENV, 'bin', 'python');
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;

// ---------------------------------------------------------------------------------------------
// Control API types (twin/moto/twin_moto.py)
// ---------------------------------------------------------------------------------------------

/** Seconds each RDS phase lasts on the virtual clock (0 = instant, as plain moto). */
export interface MotoDurations {
  snapshotCreate: number;
  snapshotCopy: number;
  snapshotDelete: number;
  /** createDBInstance */
  create: number;
  /** restoreDBInstanceFromDBSnapshot */
  restore: number;
  modify: number;
  start: number;
  stop: number;
  delete: number;
}

export const DEFAULT_MOTO_DURATIONS: Readonly<MotoDurations> = {
  snapshotCreate: 300,
  snapshotCopy: 300,
  snapshotDelete: 0,
  create: 0,
  restore: 600,
  modify: 30,
  start: 120,
  stop: 0,
  delete: 120,
};

interface FaultScope {
  /** Limit the fault to requests made in this account. */
  account?: string;
}

/** A created/copied manual snapshot whose id matches `match` (glob) ends in `status` instead of available. */
export interface SnapshotStatusFault extends FaultScope {
  kind: 'snapshot-status';
  match: string;
  status: string;
}
/** An instance restored with an id matching `match` ends in `status` (e.g. incompatible-parameters). */
export interface InstanceStatusFault extends FaultScope {
  kind: 'instance-status';
  match: string;
  status: string;
}
/** Matching snapshots/instances stay in their transitional status while the fault is present. */
export interface NeverFinishesFault extends FaultScope {
  kind: 'never-finishes';
  match: string;
  resource?: 'snapshot' | 'instance';
}
/** The next `count` calls of `api` (moto action name, any service) fail with `code`. */
export interface ErrorFault extends FaultScope {
  kind: 'error';
  api: string;
  code: string;
  /** HTTP status (default: the model's status for a known code, else 400). */
  status?: number;
  /** Default 1. */
  count?: number;
  message?: string;
  /** Glob tested against every top-level string parameter of the request. */
  match?: string;
  /** Moto service name (e.g. 'rds'), when the action name is ambiguous. */
  service?: string;
  /**
   * true: the request takes effect first and only its response is replaced by the error (a lost
   * response). With a retried code (`Throttling`, `InternalFailure` + status 500) the caller's
   * retry then meets what the first attempt created (`...AlreadyExists`). Default false.
   */
  after?: boolean;
}
/** Any copy/restore (in `account`, or anywhere) that needs this key fails with KMSKeyNotAccessibleFault. */
export interface KmsUnusableFault extends FaultScope {
  kind: 'kms-unusable';
  keyArn: string;
}
export type MotoFault =
  | SnapshotStatusFault
  | InstanceStatusFault
  | NeverFinishesFault
  | ErrorFault
  | KmsUnusableFault;
export type ListedFault = MotoFault & { id: number; remaining?: number };

export interface PendingPhase {
  resource: 'snapshot' | 'instance';
  account: string;
  region: string;
  id: string;
  status: string;
  /** null: the resource disappears (deletion). */
  finalStatus: string | null;
  startedAt: number;
  readyAt: number;
  /** Held by a never-finishes fault. */
  blocked: boolean;
}

/** RDS quotas the twin enforces (describeAccountAttributes reports them). */
export interface MotoQuotas {
  /** Manual DB snapshots per account and Region: `default` (100, as AWS), and `<account>/<region>` or `<account>/*`. */
  manualSnapshots: Record<string, number>;
  /** Manual DB cluster snapshots, the same way. */
  manualClusterSnapshots?: Record<string, number>;
}

export const DEFAULT_MANUAL_SNAPSHOT_QUOTA = 100;

export interface MotoControl {
  /** POST /moto-api/reset (all moto state) then POST /_twin/reset (clock, durations, faults). */
  reset(opts?: { now?: number }): Promise<void>;
  /** Set the virtual clock (epoch seconds); due phases complete. */
  setNow(epochSeconds: number): Promise<number>;
  advance(seconds: number): Promise<number>;
  now(): Promise<number>;
  setDurations(partial: Partial<MotoDurations>): Promise<MotoDurations>;
  durations(): Promise<MotoDurations>;
  addFault(fault: MotoFault | MotoFault[]): Promise<ListedFault[]>;
  faults(): Promise<ListedFault[]>;
  clearFaults(): Promise<void>;
  /** Phases not yet complete, earliest first (the scheduler can jump to `readyAt`). */
  pending(): Promise<PendingPhase[]>;
  /**
   * Sets the manual DB snapshot quota (AccountQuotaName ManualSnapshots): of `account` in `region`
   * (every Region when omitted), or the default of every account when `account` is omitted.
   * createDBSnapshot/copyDBSnapshot beyond it fail with SnapshotQuotaExceeded. `reset` restores 100.
   */
  setSnapshotQuota(
    manualSnapshots: number,
    scope?: { account?: string; region?: string },
  ): Promise<MotoQuotas>;
  quotas(): Promise<MotoQuotas>;
  /**
   * A snapshot RDS's automated backups (`rds:<db>-<time>`) or AWS Backup (`awsbackup:job-<uuid>`)
   * took of an instance `ageSeconds` ago on the virtual clock. Such snapshots cannot be shared (the
   * twin refuses ModifyDBSnapshotAttribute as AWS does) but can be copied to a manual snapshot.
   * `replace` first removes the instance's other automated and AWS Backup snapshots.
   */
  addBackupSnapshot(backup: BackupSnapshotRequest): Promise<BackupSnapshot>;
  /** The manual DB cluster snapshot quota (ManualClusterSnapshots), as setSnapshotQuota. */
  setClusterSnapshotQuota(
    manualClusterSnapshots: number,
    scope?: { account?: string; region?: string },
  ): Promise<MotoQuotas>;
}

export interface BackupSnapshotRequest {
  account: string;
  region?: string;
  dbInstanceIdentifier: string;
  type: 'automated' | 'awsbackup';
  ageSeconds: number;
  status?: 'available' | 'creating';
  replace?: boolean;
}

export interface BackupSnapshot {
  id: string;
  arn: string;
  /** ISO 8601, UTC. */
  snapshotCreateTime: string;
}

export interface MotoServer {
  url: string;
  port: number;
  /** Process id of moto_server (the benchmark reads its peak memory). */
  pid: number | undefined;
  version: string;
  python: string;
  control: MotoControl;
  stop(): Promise<void>;
  /** Last lines moto printed (diagnostics). */
  output(): string;
}

export class MotoMissingError extends Error {
  constructor(readonly tried: string[]) {
    super(
      [
        `moto ${MOTO_VERSION.replace(/\.\d+$/, '.x')} with its server extras is not importable by any Python tried:`,
        ...tried.map((t) => `  - ${t}`),
        'Install it into a Python 3 and point TWIN_PYTHON at it (or use python3 / .venv/bin/python):',
        MOTO_INSTALL_COMMAND,
      ].join('\n'),
    );
    this.name = 'MotoMissingError';
  }
}

// ---------------------------------------------------------------------------------------------
// Finding Python
// ---------------------------------------------------------------------------------------------

const PROBE = [
  'import sys',
  'try:',
  '    import moto, flask, flask_cors, werkzeug',
  'except ImportError as e:',
  '    print("missing: " + str(e)); sys.exit(3)',
  'print(moto.__version__)',
  'print(moto.__file__)',
].join('\n');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: NodeJS.ErrnoException;
}

function run(cmd: string, args: string[], timeoutMs: number, env = process.env): Promise<RunResult> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: timeoutMs, env, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const err = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr), error: err ?? undefined });
    });
  });
}

/**
 * What a successful probe found, remembered between processes (every twin test file starts a moto,
 * and a probe is a Python start that imports moto and flask): valid while the interpreter the
 * command resolves to and moto's package file are the same files, unchanged.
 */
const PROBE_CACHE = join(ROOT, 'dist', '.twin-python.json');

function interpreterOf(python: string): string | undefined {
  const dirs = python.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const path = dir ? join(dir, python) : python;
    try {
      const real = realpathSync(path);
      if (statSync(real).isFile()) return real;
    } catch {}
  }
  return undefined;
}

function fingerprint(python: string, motoFile: string): string | undefined {
  const interpreter = interpreterOf(python);
  if (!interpreter) return undefined;
  try {
    const files = [interpreter, motoFile].map((f) => `${f}:${statSync(f).mtimeMs}:${statSync(f).size}`);
    return `${python}|${files.join('|')}`;
  } catch {
    return undefined;
  }
}

function cachedProbe(python: string): { ok: true; version: string } | undefined {
  try {
    const cache = JSON.parse(readFileSync(PROBE_CACHE, 'utf8')) as Record<
      string,
      { version: string; motoFile: string; fingerprint: string }
    >;
    const hit = cache[python];
    if (hit && fingerprint(python, hit.motoFile) === hit.fingerprint)
      return { ok: true, version: hit.version };
  } catch {}
  return undefined;
}

function rememberProbe(python: string, version: string, motoFile: string): void {
  const print = fingerprint(python, motoFile);
  if (!print) return;
  try {
    let cache: Record<string, unknown> = {};
    try {
      cache = JSON.parse(readFileSync(PROBE_CACHE, 'utf8'));
    } catch {}
    cache[python] = { version, motoFile, fingerprint: print };
    mkdirSync(dirname(PROBE_CACHE), { recursive: true });
    const tmp = `${PROBE_CACHE}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify(cache));
    renameSync(tmp, PROBE_CACHE);
  } catch {}
}

async function probe(python: string): Promise<{ ok: true; version: string } | { ok: false; why: string }> {
  const cached = cachedProbe(python);
  if (cached) return cached;
  const r = await run(python, ['-c', PROBE], 20_000);
  if (r.error && r.error.code === 'ENOENT') return { ok: false, why: 'not found' };
  const out = r.stdout.trim();
  if (r.code !== 0) {
    const why = out.startsWith('missing:') ? out : (r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`);
    return { ok: false, why: why || `exit ${r.code}` };
  }
  const [version = '', motoFile = ''] = out.split('\n').map((l) => l.trim());
  if (!version.startsWith('5.2.')) return { ok: false, why: `has moto ${version}, need 5.2.x` };
  if (motoFile) rememberProbe(python, version, motoFile);
  return { ok: true, version };
}

/** Finds a Python with moto 5.2 (TWIN_PYTHON, python3, .venv/bin/python), else tries to create .venv. */
export async function findPython(
  opts: { python?: string } = {},
): Promise<{ python: string; version: string }> {
  const tried: string[] = [];
  const candidates: Array<[string, string]> = [];
  if (opts.python) candidates.push([opts.python, `${opts.python} (option)`]);
  if (process.env.TWIN_PYTHON)
    candidates.push([process.env.TWIN_PYTHON, `TWIN_PYTHON=${process.env.TWIN_PYTHON}`]);
  else tried.push('TWIN_PYTHON: not set');
  candidates.push(['python3', 'python3 (PATH)']);
  candidates.push([VENV_PYTHON, VENV_PYTHON]);
  for (const [python, label] of candidates) {
    const r = await probe(python);
    if (r.ok) return { python, version: r.version };
    tried.push(`${label}: ${r.why}`);
  }
  if (process.env.TWIN_NO_VENV === '1') {
    tried.push(`creating ${VENV}: skipped (TWIN_NO_VENV=1)`);
    throw new MotoMissingError(tried);
  }
  const made = await createVenv();
  tried.push(made.note);
  if (made.ok) {
    const r = await probe(VENV_PYTHON);
    if (r.ok) return { python: VENV_PYTHON, version: r.version };
    tried.push(`${VENV_PYTHON} after install: ${r.why}`);
  }
  throw new MotoMissingError(tried);
}

async function createVenv(): Promise<{ ok: boolean; note: string }> {
  if (!existsSync(VENV_PYTHON)) {
    const v = await run('python3', ['-m', 'venv', VENV], 60_000);
    if (v.code !== 0) {
      const why = v.error?.code === 'ENOENT' ? 'python3 not found' : lastLine(v.stderr || v.stdout);
      return { ok: false, note: `creating ${VENV} (python3 -m venv): failed: ${why}` };
    }
  }
  const pip = await run(
    VENV_PYTHON,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--timeout',
      '5',
      '--retries',
      '0',
      `moto[server]==${MOTO_VERSION}`,
    ],
    120_000,
  );
  if (pip.code !== 0) {
    return {
      ok: false,
      note: `installing moto into ${VENV} (pip): failed: ${lastLine(pip.stderr || pip.stdout)}`,
    };
  }
  return { ok: true, note: `installed moto into ${VENV}` };
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines[lines.length - 1] ?? 'no output';
}

// ---------------------------------------------------------------------------------------------
// Server lifecycle
// ---------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const handler = () => {
      for (const child of live) child.kill('SIGTERM');
      live.clear();
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StartMotoOptions {
  python?: string;
  /**
   * Share one server between the twins this process starts one after another (each Jest test file
   * of a worker): the first call starts it; later calls, after the previous twin stopped, reset it
   * (all of moto's state, then the clock, durations, faults and quotas) instead of starting
   * another Python. `stop()` then leaves it running; it ends with this process (run.py reads its
   * stdin until the process that started it is gone). Saves ~1.3 s of CPU per test file.
   */
  shared?: boolean;
}

/** Where a process records its shared server (Jest gives each test file a fresh module registry). */
const sharedRecord = () => join(tmpdir(), 'rds-replica-twin', `moto-${process.pid}.json`);

interface SharedRecord {
  url: string;
  port: number;
  pid: number | undefined;
  version: string;
  python: string;
  /** A twin of this process uses it now (a second twin at the same time gets a server of its own). */
  busy: boolean;
}

function writeShared(rec: SharedRecord): void {
  const path = sharedRecord();
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  else if (!existsSync(path)) {
    // the records of processes that have ended (their servers ended with them)
    for (const f of readdirSync(dir)) {
      const pid = Number(/^moto-(\d+)\.json$/.exec(f)?.[1]);
      if (pid && !processAlive(pid)) rmSync(join(dir, f), { force: true });
    }
  }
  writeFileSync(path, JSON.stringify(rec));
}

/** Whether a process with this id runs (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Marks the shared server free again when the twin using it stops (the next one resets it). */
function sharedHandle(server: Omit<MotoServer, 'stop'>, rec: SharedRecord): MotoServer {
  writeShared({ ...rec, busy: true });
  return {
    ...server,
    stop: async () => writeShared({ ...rec, busy: false }),
  };
}

async function reuseShared(): Promise<MotoServer | undefined> {
  let rec: SharedRecord;
  try {
    rec = JSON.parse(readFileSync(sharedRecord(), 'utf8'));
  } catch {
    return undefined;
  }
  if (rec.busy) return undefined;
  try {
    const res = await fetch(`${rec.url}/_twin/health`, { signal: AbortSignal.timeout(2000) });
    const health = (await res.json()) as { twin?: string; parent?: number };
    // a server of this process (not of an earlier process that had the same pid)
    if (!res.ok || !health.twin || health.parent !== process.pid) return undefined;
  } catch {
    return undefined;
  }
  const control = motoControl(rec.url);
  await control.reset();
  const output = () => `(shared moto_server pid ${rec.pid}: its output went to the twin that started it)`;
  return sharedHandle(
    { url: rec.url, port: rec.port, pid: rec.pid, version: rec.version, python: rec.python, control, output },
    rec,
  );
}

export async function startMoto(opts: StartMotoOptions = {}): Promise<MotoServer> {
  if (opts.shared) {
    const reused = await reuseShared();
    if (reused) return reused;
  }
  const server = await startNewMoto(opts);
  if (!opts.shared) return server;
  let rec: SharedRecord | undefined;
  try {
    rec = JSON.parse(readFileSync(sharedRecord(), 'utf8'));
  } catch {}
  // keep sharing the first one when another twin of this process still uses it
  if (rec?.busy) return server;
  const { url, port, pid, version, python } = server;
  return sharedHandle(server, { url, port, pid, version, python, busy: true });
}

async function startNewMoto(opts: StartMotoOptions): Promise<MotoServer> {
  const { python, version } = await findPython(opts);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(python, version, port);
    } catch (e) {
      lastError = e as Error;
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  throw lastError;
}

async function launch(python: string, version: string, port: number): Promise<MotoServer> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    // the server exits when this process does, however it ends (run.py watches stdin)
    TWIN_EXIT_WITH_PARENT: '1',
  };
  // Accounts are chosen per request (x-moto-account-id or STS credentials); a forced one would break that.
  delete env.MOTO_ACCOUNT_ID;
  const child = spawn(python, [ENTRY, '-H', '127.0.0.1', '-p', String(port)], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  installExitHooks();

  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_384);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((done) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      done();
    });
    child.on('error', (err) => {
      output += `\n${err.message}`;
      exited = { code: null, signal: null };
      live.delete(child);
      done();
    });
  });
  // A forgotten server must not keep the Node process alive; the exit hook kills it.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exit;
    clearTimeout(timer);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      throw new Error(`moto_server exited before answering (code ${exited.code}):\n${output.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/_twin/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        const body = (await res.json()) as { twin?: string };
        if (body.twin) break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `moto_server did not answer on ${url} within ${READY_TIMEOUT_MS} ms:\n${output.slice(-4000)}`,
      );
    }
    await sleep(50);
  }

  return {
    url,
    port,
    pid: child.pid,
    version,
    python,
    control: motoControl(url),
    stop,
    output: () => output,
  };
}

// ---------------------------------------------------------------------------------------------
// Control client
// ---------------------------------------------------------------------------------------------

export function motoControl(url: string): MotoControl {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    async reset(opts = {}) {
      const res = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`POST /moto-api/reset: HTTP ${res.status}`);
      await res.arrayBuffer();
      await call('POST', '/_twin/reset', opts.now === undefined ? {} : { now: opts.now });
    },
    setNow: async (epochSeconds) =>
      (await call<{ now: number }>('POST', '/_twin/clock', { now: epochSeconds })).now,
    advance: async (seconds) =>
      (await call<{ now: number }>('POST', '/_twin/clock', { advance: seconds })).now,
    now: async () => (await call<{ now: number }>('GET', '/_twin/clock')).now,
    setDurations: (partial) => call<MotoDurations>('POST', '/_twin/durations', partial),
    durations: () => call<MotoDurations>('GET', '/_twin/durations'),
    addFault: (fault) => call<ListedFault[]>('POST', '/_twin/faults', fault),
    faults: () => call<ListedFault[]>('GET', '/_twin/faults'),
    async clearFaults() {
      await call('DELETE', '/_twin/faults');
    },
    pending: () => call<PendingPhase[]>('GET', '/_twin/pending'),
    setSnapshotQuota: (manualSnapshots, scope = {}) =>
      call<MotoQuotas>('POST', '/_twin/quotas', { manualSnapshots, ...scope }),
    quotas: () => call<MotoQuotas>('GET', '/_twin/quotas'),
    addBackupSnapshot: (backup) => call<BackupSnapshot>('POST', '/_twin/backups', backup),
    setClusterSnapshotQuota: (manualClusterSnapshots, scope = {}) =>
      call<MotoQuotas>('POST', '/_twin/quotas', { manualClusterSnapshots, ...scope }),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI: npx tsx twin/src/moto.ts --check
// ---------------------------------------------------------------------------------------------

async function cli(argv: string[]): Promise<number> {
  if (!argv.includes('--check')) {
    console.error('usage: tsx twin/src/moto.ts --check');
    return 2;
  }
  try {
    const { python, version } = await findPython();
    console.log(`moto ${version} (${python})`);
    return 0;
  } catch (e) {
    if (e instanceof MotoMissingError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
