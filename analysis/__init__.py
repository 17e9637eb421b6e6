"""pifio analysis: results store, A/B statistics, plots, dashboard."""
