drop table if exists message;
drop table if exists conversation;
