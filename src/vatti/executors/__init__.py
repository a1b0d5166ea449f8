"""Where jobs run: one small protocol (:mod:`.base`) and one module per implementation."""
