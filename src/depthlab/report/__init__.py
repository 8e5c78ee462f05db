"""Reports: a document model (:mod:`.document`: sections of text, figures, tables and
verdicts) rendered as one self-contained HTML page (:mod:`.html`) and its Markdown twin
(:mod:`.markdown`), both opening with the summary of a page's verdicts
(:mod:`.summary`), tables written as CSV and Markdown (:mod:`.tables`), and the shared
pieces of every figure (:mod:`.plotting`). Imports run one way: the renderers and the
tables depend on the model, never the reverse."""
