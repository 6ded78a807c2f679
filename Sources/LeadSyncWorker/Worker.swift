public enum WorkerPlaceholder {}
