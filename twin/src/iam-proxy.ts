// The Lambdas' way into moto: an HTTP proxy that authorises each request signed with a function's
// assumed-role credentials (iam.ts) before it reaches moto, and answers a refusal in the service's
// own wire format, so the function's SDK raises exactly what it would raise on AWS. Requests
// without a known access key (the twin's own clients) pass through untouched.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessDeniedError, type Call, type IamAuthorizer } from './iam';
import { LimitError } from './limits';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The operation and input of a request: JSON protocols by X-Amz-Target, query protocols by Action. */
export function parseRequest(
  headers: IncomingMessage['headers'],
  body: string,
): {
  service: string;
  region: string;
  accessKeyId?: string;
  operation?: string;
  input: Record<string, unknown>;
  json: boolean;
} {
  const auth = String(headers.authorization ?? '');
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(auth);
  const accessKeyId = scope?.[1];
  const region = scope?.[2] ?? 'us-east-1';
  const service = scope?.[3] ?? '';
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) {
    let input: Record<string, unknown> = {};
    try {
      input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      // not JSON: authorised without input
    }
    const operation = target.slice(target.lastIndexOf('.') + 1);
    const svc = target.startsWith('AmazonSQS.')
      ? 'sqs'
      : target.startsWith('AWSStepFunctions.')
        ? 'sfn'
        : service;
    return { service: svc, region, accessKeyId, operation, input, json: true };
  }
  const form = new URLSearchParams(body);
  const input: Record<string, unknown> = {};
  for (const [k, v] of form) if (k !== 'Action' && k !== 'Version' && !k.includes('.')) input[k] = v;
  return { service, region, accessKeyId, operation: form.get('Action') ?? undefined, input, json: false };
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function startIamProxy(
  target: string,
  iam: IamAuthorizer,
  /** Further checks of a call (AWS limits), after IAM. */
  check: (call: Call) => Promise<void> = async () => {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const parsed = parseRequest(req.headers, body.toString('utf8'));
      const principal = parsed.accessKeyId ? iam.principalOfKey(parsed.accessKeyId) : undefined;
      if (principal && parsed.operation) {
        try {
          const call: Call = {
            service: parsed.service === 'states' ? 'sfn' : parsed.service,
            operation: parsed.operation,
            input: parsed.input,
            account: principal.split(':')[4]!,
            region: parsed.region,
          };
          await iam.authorize(principal, call);
          await check(call);
        } catch (err) {
          if (!(err instanceof AccessDeniedError) && !(err instanceof LimitError)) throw err;
          const requestId = err.$metadata.requestId;
          if (parsed.json) {
            res.writeHead(err.$metadata.httpStatusCode, {
              'content-type': 'application/x-amz-json-1.1',
              'x-amzn-errortype': err.Code,
              'x-amzn-requestid': requestId,
            });
            res.end(JSON.stringify({ __type: err.Code, message: err.message }));
          } else {
            res.writeHead(err.$metadata.httpStatusCode, {
              'content-type': 'text/xml',
              'x-amzn-requestid': requestId,
            });
            res.end(
              `<ErrorResponse><Error><Type>Sender</Type><Code>${err.Code}</Code><Message>${xmlEscape(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
            );
          }
          return;
        }
      }
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      forward.end(body);
    })().catch((e: Error) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ __type: 'InternalFailure', message: `twin IAM proxy: ${e.message}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
