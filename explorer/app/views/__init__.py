"""The app's Gradio wiring, one module per tab: components and their events (the actions they call live in
`explorer.app.tabs`, free of Gradio). `explorer.app.ui.build` lays out the shared panel and calls each."""
