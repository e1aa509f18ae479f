"""ov2.data"""
