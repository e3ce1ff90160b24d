-- Board totals (services/projections/boards/totals.py): the figures of the boards that count
-- children, kept per day and locality, so a board on a kept day is a sum of a few hundred
-- rows. A day is kept from the first time a board is asked for it (or the API's warm-up of
-- today); from then on the projection moves its totals by each changed child's contribution,
-- in the transaction that changes the child's facts.

-- The days kept for each board. The projection takes this table's advisory lock shared in
-- every batch that changes a child; keeping a new day takes it exclusively, so a day starts
-- from a snapshot that no batch in flight is missing from.
CREATE TABLE board_days (
    board   text        NOT NULL,
    day     date        NOT NULL,
    kept_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (board, day)
);

-- count and denominator are sums of the children's contributions (the definition gives a
-- figure without a denominator 0 here; the board's template says which have one).
CREATE TABLE board_totals (
    board       text    NOT NULL,
    day         date    NOT NULL,
    locality    text    NOT NULL,
    key         text    NOT NULL,
    label       text    NOT NULL,
    count       bigint  NOT NULL,
    denominator bigint  NOT NULL,
    PRIMARY KEY (board, day, locality, key),
    FOREIGN KEY (board, day) REFERENCES board_days ON DELETE CASCADE
);
