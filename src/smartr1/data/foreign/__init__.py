"""Other datasets -> WOMD scenarios: ScenarioNet pickles (`scenarionet`) and Argoverse 2 motion
forecasting (`av2`), cut into 91-step windows (`scene`) and written as TFRecord shards (`convert`)."""
