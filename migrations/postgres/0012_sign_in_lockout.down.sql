drop table sign_in_lockout;
