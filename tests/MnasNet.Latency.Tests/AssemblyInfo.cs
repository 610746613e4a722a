// Tests here seed libtorch's process-wide random generator and then build modules from it (the ONNX export checks);
// another class drawing from it in parallel changed their weights now and then: classes run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
