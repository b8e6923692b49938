-- Paging a conversation's messages: PostgreSQL's generic plan for these queries otherwise reads the whole thread.
create index message_conversation_user_seq_idx on message (conversation_id, user_id, seq);
