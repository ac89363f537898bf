// The bench's oidc-provider target: node's reference OpenID Connect server, in-memory storage
// (its default adapter: no database at all), one confidential client authenticating with
// client_secret_basic, refresh tokens not rotated. At start it stores one refresh token and one
// access token for that client, with the values the bench chose (OIDC_REFRESH_TOKEN,
// OIDC_ACCESS_TOKEN: 43 URL-safe characters, like its own), then listens on 127.0.0.1 at the
// port given as its one argument.
//
// Refresh:  POST /token  grant_type=refresh_token&refresh_token=...   (Basic client auth)
// Verify:   POST /token/introspection  token=...                      (Basic client auth)
// No `openid` scope: no ID token is signed on refresh, as the service signs none either.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
const refreshValue = process.env.OIDC_REFRESH_TOKEN;
const accessValue = process.env.OIDC_ACCESS_TOKEN;
if (!port || !clientId || !clientSecret || !refreshValue || !accessValue) {
  throw new Error(
    'usage: node server.mjs PORT, with OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REFRESH_TOKEN '
      + 'and OIDC_ACCESS_TOKEN set',
  );
}
const accountId = 'bench-user';
const scope = 'offline_access';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://mis.example.org/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  scopes: ['openid', 'offline_access'],
  rotateRefreshToken: false,
  features: {
    devInteractions: { enabled: false },
    // The bench's client may introspect its own tokens (the default policy says the same,
    // with a notice on every call).
    introspection: { enabled: true, allowedPolicy: () => true },
  },
  ttl: {
    AccessToken: 8 * 3600,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
  },
});

const client = await provider.Client.find(clientId);
const grant = new provider.Grant({ accountId, clientId });
grant.addOIDCScope(scope);
const grantId = await grant.save();
await new provider.RefreshToken({
  jti: refreshValue,
  client,
  accountId,
  grantId,
  scope,
  gty: 'authorization_code',
}).save();
const accessToken = new provider.AccessToken({
  jti: accessValue,
  client,
  accountId,
  grantId,
  scope,
  gty: 'authorization_code',
});
accessToken.format = 'opaque'; // the provider sets it when it picks the value itself
await accessToken.save();

provider.listen(port, '127.0.0.1');
