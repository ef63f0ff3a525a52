"""The network: dilated ResNet backbone (DFE), CRB/AFB blocks, the DMG wiring and the ablation rows."""
