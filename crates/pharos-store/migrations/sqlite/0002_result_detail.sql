-- What a probe found worth showing besides its verdict (delivery latency, domain findings).
ALTER TABLE results ADD COLUMN detail TEXT;
