-- A new message or task takes the next number of its conversation or person in one INSERT (numbered by a
-- subquery), and these triggers move the counters in the same statement. One statement instead of a
-- transaction of two holds SQLite's single write lock for one round trip instead of four. (PostgreSQL does
-- the same in one statement with a data-modifying WITH, which SQLite lacks.)
create trigger message_takes_seq after insert on message begin
  update conversation set last_seq = max(last_seq, new.seq), updated_at = new.created_at
  where id = new.conversation_id;
end;
create trigger task_takes_number after insert on task begin
  insert into task_counter (user_id, last_number) values (new.user_id, new.number)
  on conflict (user_id) do update set last_number = max(last_number, excluded.last_number);
end;
