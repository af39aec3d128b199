// A real @node-oauth/express-oauth-server (on @node-oauth/oauth2-server),
// configured as a team would, for invalid-scope-proxy's tests. The
// libraries are not modified: only given an in-memory model.
//
// Usage: PORT=N node server.mjs (it prints `listening on http://127.0.0.1:N`)
//
// Client `webapp` (secret `webapp-s3cret-never-logged`): authorization code
// and client credentials, allowed `read write`, redirect
// https://client.example/cb. A scope outside that is invalid_scope.
//
// GET  /oauth/authorize  authorizes for a fixed user: no login page.
// POST /oauth/token      form-encoded, client auth by HTTP Basic or body.
// GET  /me               a resource that needs a Bearer token with `read`.
import express from 'express';
import OAuthServer from '@node-oauth/express-oauth-server';

const port = Number(process.env.PORT);
if (!process.env.PORT || !Number.isInteger(port)) {
  throw new Error('set PORT (0 picks a free port)');
}

const clients = [
  {
    id: 'webapp',
    secret: 'webapp-s3cret-never-logged',
    redirectUris: ['https://client.example/cb'],
    grants: ['authorization_code', 'client_credentials'],
    scopes: ['read', 'write'],
  },
];
const user = { id: 'alice' };

// Issued codes and tokens, by their value; nothing is ever cleaned up.
const codes = new Map();
const tokens = new Map();

const model = {
  // The secret is null on /oauth/authorize, where the client only names itself.
  async getClient(clientId, clientSecret) {
    const client = clients.find((c) => c.id === clientId);
    if (!client) return false;
    if (clientSecret !== null && clientSecret !== client.secret) return false;
    return client;
  },
  // `scope` is an array of the requested scopes, or undefined when none was
  // asked for: then the client gets all it is allowed.
  async validateScope(user, client, scope) {
    if (!scope) return client.scopes;
    return scope.every((s) => client.scopes.includes(s)) ? scope : false;
  },
  async saveAuthorizationCode(code, client, user) {
    const saved = { ...code, client, user };
    codes.set(code.authorizationCode, saved);
    return saved;
  },
  async getAuthorizationCode(authorizationCode) {
    return codes.get(authorizationCode);
  },
  async revokeAuthorizationCode(code) {
    return codes.delete(code.authorizationCode);
  },
  // The client credentials grant acts for the client itself.
  async getUserFromClient(client) {
    return { id: `client:${client.id}` };
  },
  async saveToken(token, client, user) {
    const saved = { ...token, client, user };
    tokens.set(token.accessToken, saved);
    return saved;
  },
  async getAccessToken(accessToken) {
    return tokens.get(accessToken);
  },
  async verifyScope(token, scope) {
    return scope.every((s) => token.scope.includes(s));
  },
};

const app = express();
app.oauth = new OAuthServer({ model });

app.use(express.urlencoded({ extended: false }));

app.get(
  '/oauth/authorize',
  app.oauth.authorize({ authenticateHandler: { handle: () => user } }),
);
app.post('/oauth/token', app.oauth.token());
app.get('/me', app.oauth.authenticate({ scope: 'read' }), (req, res) => {
  res.json({ user: res.locals.oauth.token.user.id });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
