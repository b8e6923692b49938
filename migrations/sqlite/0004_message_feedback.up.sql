-- A person's thumbs up or down on an answer (ChatKit's items.feedback).
alter table message add column feedback text check (feedback in ('positive', 'negative'));
