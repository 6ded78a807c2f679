public enum UservoxClientPlaceholder {}
