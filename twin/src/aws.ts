// SDK v3 clients for the twin itself (provisioning, fixtures, assertions in tests): every request
// goes to the local endpoint and names its account with moto's `x-moto-account-id` header.

export interface Where {
  endpoint: string;
  account: string;
  region: string;
}

export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIATWINTWINTWIN0000', secretAccessKey: 'twin' };

// biome-ignore lint/suspicious/noExplicitAny: SDK client constructors differ only in their config type.
type AnyClientClass<C> = new (config: any) => C;

// biome-ignore lint/suspicious/noExplicitAny: any SDK v3 client.
export function accountClient<C extends { middlewareStack: { add: (...a: any[]) => void } }>(
  ClientClass: AnyClientClass<C>,
  where: Where,
): C {
  const client = new ClientClass({
    endpoint: where.endpoint,
    region: where.region,
    credentials: DUMMY_CREDENTIALS,
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next: (a: unknown) => Promise<unknown>) => async (args: { request: unknown }) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-moto-account-id'] = where.account;
      return next(args);
    },
    { step: 'build', name: 'twinAccountHeader' },
  );
  return client;
}
