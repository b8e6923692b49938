-- The OAuth 2.1 authorization server's tables, shaped like Better Auth's oauth-provider plugin (camelCase,
-- string arrays as JSON text). Ours add "resource" (RFC 8707 binding) and "familyId" (the refresh-token
-- rotation chain that a reused refresh token revokes whole). Secrets and tokens are stored as SHA-256 hex.
-- Authorization codes live in "verification" (identifier "oauth-code:<hash>"), as Better Auth keeps them.
create table "oauthClient" (
  "id" text not null primary key,
  "clientId" text not null unique,
  "clientSecret" text,
  "disabled" boolean default false,
  "skipConsent" boolean,
  "scopes" text,
  "userId" text references "user" ("id") on delete cascade,
  "createdAt" timestamptz,
  "updatedAt" timestamptz,
  "name" text,
  "uri" text,
  "icon" text,
  "redirectUris" text not null,
  "tokenEndpointAuthMethod" text,
  "grantTypes" text,
  "responseTypes" text,
  "public" boolean,
  "type" text,
  "metadata" text
);
create table "oauthRefreshToken" (
  "id" text not null primary key,
  "token" text not null unique,
  "clientId" text not null references "oauthClient" ("clientId") on delete cascade,
  "sessionId" text references "session" ("id") on delete set null,
  "userId" text not null references "user" ("id") on delete cascade,
  "referenceId" text,
  "expiresAt" timestamptz not null,
  "createdAt" timestamptz not null,
  "used" timestamptz,
  "revoked" timestamptz,
  "scopes" text not null,
  "resource" text,
  "familyId" text not null
);
create index "oauthRefreshToken_familyId_idx" on "oauthRefreshToken" ("familyId");
create index "oauthRefreshToken_userId_idx" on "oauthRefreshToken" ("userId");
create table "oauthAccessToken" (
  "id" text not null primary key,
  "token" text not null unique,
  "clientId" text not null references "oauthClient" ("clientId") on delete cascade,
  "sessionId" text references "session" ("id") on delete set null,
  "userId" text references "user" ("id") on delete cascade,
  "referenceId" text,
  "refreshId" text references "oauthRefreshToken" ("id") on delete cascade,
  "expiresAt" timestamptz not null,
  "createdAt" timestamptz not null,
  "scopes" text not null,
  "resource" text,
  "familyId" text not null
);
create index "oauthAccessToken_familyId_idx" on "oauthAccessToken" ("familyId");
create index "oauthAccessToken_userId_idx" on "oauthAccessToken" ("userId");
create table "oauthConsent" (
  "id" text not null primary key,
  "clientId" text not null references "oauthClient" ("clientId") on delete cascade,
  "userId" text references "user" ("id") on delete cascade,
  "referenceId" text,
  "scopes" text not null,
  "createdAt" timestamptz not null,
  "updatedAt" timestamptz not null
);
create unique index "oauthConsent_user_client_idx" on "oauthConsent" ("userId", "clientId");
