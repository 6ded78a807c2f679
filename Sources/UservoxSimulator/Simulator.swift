public enum UservoxSimulatorPlaceholder {}
