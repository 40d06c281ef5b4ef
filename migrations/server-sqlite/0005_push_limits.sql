-- What each user has been sent: the highest event `seq` of any pull page answered to them.
-- A pushed event is placed after the newest event of its record up to this mark, so an edit
-- made after seeing the office's filing cannot claim to precede it (backdating).
CREATE TABLE pull_marks (
    user_id TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL
);

-- A new problem's code must not be another problem's: looked up on every report.
CREATE INDEX problems_code ON problems (code);
