"""The main screen's long-running flows, one mixin each: probing (issue 3) and the switches with the
emergency disable (issue 4). They hold the workers and the message handlers; the modals and the
panic screen live in ``app/tui/screens``. Handlers are ``on_<message>`` methods (not ``@on``), so
Textual finds them on a mixin."""
