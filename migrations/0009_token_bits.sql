-- Self-information of each sentence's LM tokens (token-level compression,
-- `rag::tokens`): per token a u16 end offset in the sentence and the bits
-- ×10 in a byte. NULL until scored (at ingest when `rag.token-scores`
-- covers the item, else on first use).
ALTER TABLE sentences ADD COLUMN token_bits BLOB;
