delete from "verification" where "identifier" like 'oauth-code:%' or "identifier" like 'oauth-used-code:%';
drop table "oauthConsent";
drop table "oauthAccessToken";
drop table "oauthRefreshToken";
drop table "oauthClient";
