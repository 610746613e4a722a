// libtorch's thread count and random generator are process-wide, and several tests compare results bit for bit:
// test classes of this assembly run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
