//! Runnable examples of the tacker VNF Manager; see `src/bin/`.
