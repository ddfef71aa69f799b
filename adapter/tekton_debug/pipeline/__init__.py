"""Pipelines: a PipelineRun as a graph of pipeline tasks, each run as one TaskRun session
(``pipeline.run.PipelineSession``). Never drives a runtime itself."""
