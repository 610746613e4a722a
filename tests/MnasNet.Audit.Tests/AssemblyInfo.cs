// Searches run in-process here share process-wide state (Serilog's global logger, libtorch's thread count and
// random generator): test classes of this assembly run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
