-- Conversations and their messages. Messages carry user_id too so that ownership is one indexed comparison and a
-- user's deletion cascades without a join; seq orders messages within a conversation (timestamps can tie).
create table conversation (
  id text not null primary key,
  user_id text not null references "user" ("id") on delete cascade,
  title text,
  last_seq bigint not null default 0,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index conversation_user_updated_idx on conversation (user_id, updated_at desc, id desc);
create table message (
  id text not null primary key,
  conversation_id text not null references conversation ("id") on delete cascade,
  user_id text not null references "user" ("id") on delete cascade,
  seq bigint not null,
  role text not null check (role in ('user', 'assistant', 'tool')),
  content text not null,
  tool_calls text,
  created_at timestamptz not null,
  unique (conversation_id, seq)
);
create index message_user_idx on message (user_id);
