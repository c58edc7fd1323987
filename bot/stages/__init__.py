"""The stages of the data flow as library functions: a typed request in, a typed result out,
progress through a callback object, no argparse and no printing.

    validate.validate(ws, ValidateRequest(...))          -> Report
    generate.generate(ws, GenerateRequest(...), progress) -> GenerateResult
    train.retrain(ws, RetrainRequest(...), progress)      -> RetrainResult (the one retrain path)
    benchmark.benchmark(ws, BenchmarkRequest(...), progress) -> BenchmarkResult
    release.release(ws, ReleaseRequest(...), say)          -> ReleaseResult
    run.run(ws, RunRequest(...), progress)                 -> RunResult (the main job)

`ws` is the bot.workspace.Workspace. A request the stage refuses raises UsageError (the CLI
exits 2); a stage that cannot finish raises StageFailed with what to do next.
"""
