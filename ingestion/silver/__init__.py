"""Pure Silver transforms: DataFrame in, DataFrame out, no reads or writes.

Jobs read Bronze, call these, and write Silver through the Iceberg catalog;
everything here can be tested on tiny in-memory frames.
"""
