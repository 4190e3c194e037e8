"""PyTorch network definitions. Imported only by the converters (torch is optional)."""
