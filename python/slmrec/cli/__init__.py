"""The command lines, one module each: `slmrec-prep` (:mod:`slmrec.cli.prep`), `slmrec-train` (:mod:`slmrec.cli.train`),
`slmrec-recommend` (:mod:`slmrec.cli.recommend`) and `slmrec-export` (:mod:`slmrec.cli.export`)."""
