"""Market sources: the simulator and the live ccxt source behind one interface."""
