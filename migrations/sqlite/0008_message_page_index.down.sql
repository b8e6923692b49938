drop index if exists message_conversation_user_seq_idx;
