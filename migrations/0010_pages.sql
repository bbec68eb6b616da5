-- Documents: a chunk lies within one page (PDF) or section (a slide, a
-- sheet's rows, a chapter, the text under a heading), so a hit can say
-- "page 12" or "Slide 3" and the viewer can open the original there.
ALTER TABLE chunks ADD COLUMN page INTEGER;
ALTER TABLE chunks ADD COLUMN section TEXT;
