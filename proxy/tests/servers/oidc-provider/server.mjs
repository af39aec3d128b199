// A real node-oidc-provider, configured as a team would, for
// invalid-scope-proxy's tests. It is not modified: only configured.
//
// Usage: node server.mjs PORT
//
// Clients:
// - `wizard`: authorization code, allowed `openid read write`, may use PAR.
// - `partner`: authorization code, allowed `openid read write` (the other
//   client of the forgery tests).
// - `robot`: client credentials, allowed `read`.
// - `tv`: the device flow (RFC 8628), a public client, allowed `openid read write`.
// Both authenticate with client_secret_basic or client_secret_post.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'wizard',
      client_secret: 'wizard-s3cret-never-logged',
      redirect_uris: ['https://client.example/cb'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      scope: 'openid read write',
    },
    {
      client_id: 'partner',
      client_secret: 'partner-s3cret-never-logged',
      redirect_uris: ['https://partner.example/cb'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      scope: 'openid read write',
    },
    {
      client_id: 'robot',
      client_secret: 'robot-s3cret-never-logged',
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      scope: 'read',
    },
    {
      client_id: 'tv',
      token_endpoint_auth_method: 'none',
      redirect_uris: [],
      response_types: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      scope: 'openid read write',
    },
  ],
  scopes: ['openid', 'offline_access', 'read', 'write', 'admin'],
  features: {
    clientCredentials: { enabled: true },
    pushedAuthorizationRequests: { enabled: true },
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
  },
  pkce: { required: () => false },
  cookies: { keys: ['a-test-cookie-key-not-a-secret-of-anyone'] },
  // The test server has no account store: any login is an account.
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
