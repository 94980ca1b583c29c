"""The main screen's long-running flows, composed into it as widgets with a typed host
(:class:`app.tui.flows.base.FlowHost`): probing (issue 3), and the switches with the emergency
disable (issue 4). Each holds its workers and the messages they post; the modals and the panic
screen live in ``app/tui/screens``."""
